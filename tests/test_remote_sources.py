"""Remote sources fetched from a real HTTP server on 127.0.0.1 serving the recorded responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, make_settings

from paperboy.service import Paperboy
from tests.httpserver import LocalServer, Reply

ATOM = "application/atom+xml"
XML = "text/xml"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def service(tmp_path: Path, server: LocalServer) -> Iterator[Paperboy]:
    settings = make_settings(
        tmp_path / "home", arxiv_api_url=server.url("/api/query"), oai_url=server.url("/oai2"),
        hf_url=server.url("/api/daily_papers"), rss_url=server.url("/rss"),
        s2_url=server.url("/graph/v1"), http_backoff_s=0.01, http_retries=2, fetch_limit=20)
    paperboy = Paperboy(settings)
    yield paperboy
    paperboy.close()


def fixture(name: str, content_type: str = XML, status: int = 200) -> Reply:
    return Reply.file(FIXTURES / name, content_type=content_type, status=status)


def test_arxiv_category_is_paged_politely_and_stops_when_caught_up(
        server: LocalServer, service: Paperboy) -> None:
    server.route("/api/query", [fixture("arxiv_api_query.xml", ATOM),
                                fixture("arxiv_api_query_legacy.xml", ATOM),
                                fixture("arxiv_api_query.xml", ATOM)])
    (summary,) = service.ingest(["arxiv:cs.LG"])
    assert (summary.added, summary.failed) == (20, 0)
    first, second = server.requests
    assert first.param("search_query") == "cat:cs.LG"
    assert (first.param("start"), second.param("start")) == ("0", "10")
    assert first.param("sortBy") == "submittedDate"
    assert first.headers["user-agent"].startswith("paperboy/")

    # Next run: the newest page holds only papers seen before, so one request is enough.
    (again,) = service.ingest(["arxiv:cs.LG"])
    assert (again.added, again.failed) == (0, 0)
    assert len(server.requests) == 3


def test_arxiv_error_feed_with_http_400_is_reported(server: LocalServer,
                                                   service: Paperboy) -> None:
    server.route("/api/query", fixture("arxiv_api_error.xml", ATOM, status=400))
    (summary,) = service.ingest(["arxiv:id_list_typo"])
    assert summary.failed == 1 and "incorrect id format for abc" in summary.errors[0]
    assert len(server.requests) == 1  # a 400 is not retried
    assert service.stats()["papers"] == 0


def test_oai_harvest_follows_the_resumption_token_then_asks_only_for_news(
        server: LocalServer, service: Paperboy) -> None:
    server.route("/oai2", [fixture("arxiv_oai_listrecords.xml"),
                           fixture("arxiv_oai_listrecords_arXiv_prefix.xml"),
                           fixture("arxiv_oai_error_noRecordsMatch.xml")])
    (summary,) = service.ingest(["oai:cs"])
    assert (summary.added, summary.failed) == (9, 0)
    first, second = server.requests
    assert (first.param("verb"), first.param("metadataPrefix"), first.param("set")) == (
        "ListRecords", "arXivRaw", "cs")
    assert first.param("from") is None
    assert second.param("resumptionToken") == "726959|1001"
    assert second.param("metadataPrefix") is None
    assert service.store.state("oai:cs")["last_date"] == "2017-12-14"

    (again,) = service.ingest(["oai:cs"])  # noRecordsMatch: nothing new, and that is fine
    assert (again.added, again.failed) == (0, 0)
    assert server.requests[2].param("from") == "2017-12-14"


def test_interrupted_oai_harvest_resumes_from_its_saved_token(
        server: LocalServer, service: Paperboy) -> None:
    server.route("/oai2", [fixture("arxiv_oai_listrecords.xml"), Reply(500, b"down")])
    (broken,) = service.ingest(["oai:cs"])
    assert (broken.added, broken.failed) == (6, 1)
    assert "HTTP 500" in broken.errors[0]
    assert service.store.state("oai:cs")["token"] == "726959|1001"

    server.route("/oai2", fixture("arxiv_oai_listrecords_arXiv_prefix.xml"))
    before = len(server.requests)
    (resumed,) = service.ingest(["oai:cs"])
    assert (resumed.added, resumed.failed) == (3, 0)
    assert server.requests[before].param("resumptionToken") == "726959|1001"
    assert service.store.state("oai:cs")["token"] is None


def test_bad_resumption_token_restarts_from_the_last_completed_date(
        server: LocalServer, service: Paperboy) -> None:
    with service.store.transaction() as conn:
        from datetime import UTC, datetime

        service.store.set_state(conn, "oai:cs", {"token": "stale|1", "last_date": "2015-01-01"},
                                datetime.now(UTC))
    server.route("/oai2", [fixture("arxiv_oai_error_badResumptionToken.xml"),
                           fixture("arxiv_oai_listrecords_arXiv_prefix.xml")])
    (summary,) = service.ingest(["oai:cs"])
    assert (summary.added, summary.failed) == (3, 0)
    stale, fresh = server.requests
    assert stale.param("resumptionToken") == "stale|1"
    assert (fresh.param("from"), fresh.param("metadataPrefix")) == ("2015-01-01", "arXivRaw")


def test_oai_window_from_until_is_passed_and_kept_apart(server: LocalServer,
                                                        service: Paperboy) -> None:
    from datetime import date

    server.route("/oai2", fixture("arxiv_oai_listrecords_arXiv_prefix.xml"))
    service.ingest(["oai:physics:hep-th"], since=date(2017, 12, 1), until=date(2017, 12, 31))
    (request,) = server.requests
    assert (request.param("from"), request.param("until"), request.param("set")) == (
        "2017-12-01", "2017-12-31", "physics:hep-th")
    assert service.store.state("oai:physics:hep-th") is None


def test_hf_daily_survives_a_503_and_a_connection_dropped_mid_body(
        server: LocalServer, service: Paperboy) -> None:
    body = (FIXTURES / "hf_daily_papers.json").read_bytes()
    server.route("/api/daily_papers", [Reply(503, b"busy", headers={"Retry-After": "0"}),
                                       Reply.dropped(body),
                                       fixture("hf_daily_papers.json", "application/json")])
    (summary,) = service.ingest(["hf:daily:2026-06-12"])
    assert (summary.added, summary.failed) == (8, 0)
    assert len(server.requests) == 3
    assert server.requests[-1].param("date") == "2026-06-12"
    paper = service.paper("2606.11409")
    assert paper["extras"]["hf_daily"]["upvotes"] == 8


def test_rss_category(server: LocalServer, service: Paperboy) -> None:
    server.route("/rss/cs.LG", fixture("arxiv_rss.xml", "application/rss+xml"))
    (summary,) = service.ingest(["rss:cs.LG"])
    assert (summary.added, summary.format) == (3, "arxiv_rss")


def test_semantic_scholar_search_and_batch(server: LocalServer, service: Paperboy) -> None:
    server.route("/graph/v1/paper/search", fixture("s2_paper_search.json", "application/json"))
    server.route("/graph/v1/paper/batch", fixture("s2_paper_batch.json", "application/json"))
    (search,) = service.ingest(["s2:transformer"])
    assert search.added == 5
    ids = ["CorpusId:211530585", "CorpusId:470667", "10.2139/ssrn.2250500"]
    (batch,) = service.ingest([f"s2:ids:{','.join(ids)}"])
    assert (batch.added, batch.failed) == (3, 0)  # the null entry is "not found", not a failure
    first_page, second_page, batch_request = server.requests
    assert first_page.param("query") == "transformer"
    assert (first_page.param("offset"), second_page.param("offset")) == ("0", "5")
    assert batch_request.method == "POST" and json.loads(batch_request.body)["ids"] == ids


def test_persistent_server_error_fails_the_source_with_the_url(server: LocalServer,
                                                               service: Paperboy) -> None:
    server.route("/rss/cs.CL", Reply(502, b"bad gateway"))
    (summary,) = service.ingest(["rss:cs.CL"])
    assert summary.failed == 1
    assert "/rss/cs.CL" in summary.errors[0] and "502" in summary.errors[0]
    assert len(server.requests) == 3  # one try and two retries


@pytest.mark.parametrize("spec", ["hf:weekly", "arxiv:", "rss:"])
def test_malformed_remote_specs_are_explained(service: Paperboy, spec: str) -> None:
    (summary,) = service.ingest([spec])
    assert summary.failed == 1 and spec in summary.errors[0]
