"""The store on both databases: schema from migrations, merging sources into one paper."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import FIXTURES, LISTING, PAPER_FIXTURES

from paperboy.models import Filters, Links, PaperRecord, Version
from paperboy.service import Paperboy
from paperboy.store.embeddings import cursor_of
from paperboy.store.tables import metadata

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_migrated_schema_matches_the_tables_the_code_uses(service: Paperboy) -> None:
    with service.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_fixture_together_gives_278_papers_and_again_adds_none(service: Paperboy) -> None:
    first = service.ingest([str(p) for p in PAPER_FIXTURES])
    assert [s.failed for s in first] == [0] * len(PAPER_FIXTURES)
    assert sum(s.added for s in first) == 278
    assert service.stats() == {"papers": 278, "embedded": 0}

    again = service.ingest([str(p) for p in PAPER_FIXTURES])
    assert sum(s.added for s in again) == 0
    assert sum(s.updated for s in again) == 0
    assert sum(s.unchanged for s in again) == 278
    assert service.stats()["papers"] == 278


def _write(service: Paperboy, *records: PaperRecord) -> list[str]:
    with service.store.transaction() as conn:
        return service.store.write(conn, list(records), NOW).outcomes


def _listing_record() -> PaperRecord:
    return PaperRecord(
        source="listing", position="line 3",
        title="CondConv: Conditionally Parameterized Convolutions for Efficient Inference",
        abstract="We propose CondConv. Code: https://github.com/tensorflow/tpu/tree/master/x",
        links=Links(code=["https://github.com/tensorflow/tpu"]))


def _arxiv_record(version: int, abstract: str = "The arXiv abstract.") -> PaperRecord:
    return PaperRecord(
        source="arxiv_api", position="entry 1", arxiv_id="1904.04971",
        title="CondConv: Conditionally Parameterized Convolutions for Efficient Inference",
        abstract=abstract, authors=["Brandon Yang", "Gabriel Bender"],
        categories=["cs.LG", "cs.CV"], versions=[Version(f"v{version}", NOW)],
        updated=NOW, published=datetime(2019, 4, 10, tzinfo=UTC))


def test_a_listing_paper_merges_with_arxiv_and_takes_its_id(service: Paperboy) -> None:
    assert _write(service, _listing_record()) == ["added"]
    old_id = service.papers()[0]["id"]
    assert old_id.startswith("t-")

    assert _write(service, _arxiv_record(2)) == ["updated"]
    paper = service.paper("1904.04971")
    assert paper is not None and service.stats()["papers"] == 1
    assert paper["abstract"] == "The arXiv abstract."
    assert paper["authors"] == ["Brandon Yang", "Gabriel Bender"]
    assert paper["links"]["code"] == ["https://github.com/tensorflow/tpu"]
    assert set(paper["sources"]) == {"listing", "arxiv_api"}
    assert paper["field_sources"]["abstract"]["source"] == "arxiv_api"
    # the id it had before still leads to it, and so does a versioned arXiv id
    assert service.paper(old_id)["id"] == "1904.04971"
    assert service.paper("1904.04971v2")["id"] == "1904.04971"
    # the poorer source coming again changes nothing
    assert _write(service, _listing_record()) == ["unchanged"]


def test_newer_version_updates_and_older_or_empty_never_overwrite(service: Paperboy) -> None:
    _write(service, _arxiv_record(1, "Version one."))
    assert _write(service, _arxiv_record(2, "Version two.")) == ["updated"]
    assert _write(service, _arxiv_record(1, "Version one.")) == ["unchanged"]
    assert _write(service, _arxiv_record(3, "")) == ["updated"]  # a newer version, no abstract
    paper = service.paper("1904.04971")
    assert paper["abstract"] == "Version two."
    assert paper["version"] == 3
    assert [v["label"] for v in paper["versions"]] == ["v1", "v2", "v3"]


def test_merge_does_not_depend_on_ingest_order(tmp_path, database_url) -> None:
    from conftest import make_settings

    files = [str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"), str(LISTING),
             str(FIXTURES / "hf_daily_papers.json"), str(FIXTURES / "arxiv_api_query.xml")]
    forward = Paperboy(make_settings(tmp_path / "a"))
    backward = Paperboy(make_settings(tmp_path / "b", database_url))
    forward.ingest(files)
    backward.ingest(files[::-1])
    strip = {"first_seen", "last_changed", "field_sources", "sources"}

    def content(service: Paperboy) -> list[dict]:
        return [{k: v for k, v in p.items() if k not in strip} for p in service.papers()]

    assert content(forward) == content(backward)
    forward.close()
    backward.close()


def test_same_title_with_different_arxiv_ids_stays_two_papers(service: Paperboy) -> None:
    one = PaperRecord(source="kaggle", position="line 1", title="Introduction", arxiv_id="1")
    two = PaperRecord(source="kaggle", position="line 2", title="Introduction", arxiv_id="2")
    assert _write(service, one, two) == ["added", "added"]
    assert service.stats()["papers"] == 2


def _kaggle_without_versions(arxiv_id: str, update_date: datetime | None) -> PaperRecord:
    """As the 33k corpus's records: no versions, only the crawl's `update_date`."""
    return PaperRecord(source="kaggle", position="line 1", arxiv_id=arxiv_id,
                       title=f"Paper {arxiv_id}", abstract="An abstract.", updated=update_date)


def test_a_paper_no_source_dates_takes_its_arxiv_ids_month_until_a_source_dates_it(
        service: Paperboy) -> None:
    _write(service, _kaggle_without_versions("2503.11930", datetime(2025, 3, 18, tzinfo=UTC)),
           _kaggle_without_versions("2503.00002", datetime(2025, 7, 2, tzinfo=UTC)),
           _kaggle_without_versions("hep-th/9901001", None),
           PaperRecord(source="listing", position="line 1", title="No id at all",
                       abstract="Nothing dates it."))
    same_month = service.paper("2503.11930")  # changed only in its first month: that day
    assert same_month["published"] == datetime(2025, 3, 18, tzinfo=UTC)
    assert same_month["published_precision"] == "day"
    revised = service.paper("2503.00002")  # revised later: only the month is known
    assert (revised["published"], revised["published_precision"]) == (
        datetime(2025, 3, 1, tzinfo=UTC), "month")
    assert revised["updated"] == datetime(2025, 7, 2, tzinfo=UTC)
    old = service.paper("hep-th/9901001")
    assert (old["published"], old["published_precision"]) == (
        datetime(1999, 1, 1, tzinfo=UTC), "month")
    assert [p["title"] for p in service.papers()][-1] == "No id at all"  # undated: last

    dated = PaperRecord(source="hf_daily", position="paper 1", arxiv_id="2503.00002",
                        title="Paper 2503.00002", published=datetime(2025, 3, 4, 17, tzinfo=UTC))
    assert _write(service, dated) == ["updated"]
    revised = service.paper("2503.00002")
    assert (revised["published"], revised["published_precision"]) == (
        datetime(2025, 3, 4, 17, tzinfo=UTC), None)
    assert revised["field_sources"]["published"]["source"] == "hf_daily"
    # the undated record again leaves the source's date alone
    assert _write(service, _kaggle_without_versions(
        "2503.00002", datetime(2025, 7, 2, tzinfo=UTC))) == ["unchanged"]


def test_listing_pages_run_newest_first_through_ties_and_into_undated_papers(
        service: Paperboy) -> None:
    """Pages of the newest papers, `limit` at a time, each after the previous page's last
    (published, id), as the web's cursors read them: a day's ties by id, descending, then the
    undated papers, with a category filter applied on both sides of that boundary."""
    day = datetime(2025, 3, 4, tzinfo=UTC)
    dated = [("2503.00001", day, "cs.LG"), ("2503.00002", day, "cs.CV"),
             ("2503.00003", day, "cs.LG"), ("2503.00004", day.replace(day=5), "cs.LG")]
    _write(service, *(PaperRecord(source="hf_daily", position=f"paper {n}", arxiv_id=arxiv_id,
                                  title=f"Paper {arxiv_id}", categories=[category],
                                  published=published)
                      for n, (arxiv_id, published, category) in enumerate(dated)),
           *(PaperRecord(source="listing", position=f"line {n}", title=f"Undated {n}",
                         categories=["cs.LG"] if n != 1 else [])
             for n in range(3)))

    def pages(filters: Filters, limit: int) -> list[list[str]]:
        shown, after = [], None
        while rows := service.store.listing(filters, limit=limit, after=after):
            shown.append([row["title"] for row in rows])
            after = (rows[-1]["published"], rows[-1]["id"])
        return shown

    undated = [row["title"] for row in sorted(
        (service.store.paper_by_title(f"Undated {n}") for n in range(3)),
        key=lambda row: row["id"], reverse=True)]
    everything = ["Paper 2503.00004", "Paper 2503.00003", "Paper 2503.00002",
                  "Paper 2503.00001", *undated]
    assert sum(pages(Filters(), 10), []) == everything
    assert pages(Filters(), 3) == [everything[:3], everything[3:6], everything[6:]]
    assert sum(pages(Filters(), 1), []) == everything
    learning = [title for title in everything if title not in ("Paper 2503.00002", "Undated 1")]
    assert pages(Filters(category="CS.lg"), 2) == [learning[:2], learning[2:4], learning[4:]]


def test_papers_to_embed_come_newest_first_in_batches_and_skip_embedded_ones(
        service: Paperboy) -> None:
    """What `paperboy embed` asks for, batch after batch (each after the last one's paper):
    dated papers newest first, then undated ones, never one the model has a vector for."""
    day = datetime(2025, 3, 4, tzinfo=UTC)
    _write(service, *(PaperRecord(source="hf_daily", position=f"paper {n}", arxiv_id=arxiv_id,
                                  title=f"Paper {arxiv_id}", published=published)
                      for n, (arxiv_id, published) in enumerate([
                          ("2503.00001", day), ("2503.00002", day), ("2503.00003", day),
                          ("2503.00004", day.replace(day=5))])),
           *(PaperRecord(source="listing", position=f"line {n}", title=f"Undated {n}")
             for n in range(3)))
    embeddings = service.store.embeddings
    with service.store.transaction() as conn:  # one dated and one undated have vectors
        embeddings.save(conn, "m", [service.store.paper_by_title("Undated 1")["id"],
                                    "2503.00002"], np.ones((2, 4), dtype=np.float32), NOW)

    def batches(size: int) -> list[list[str]]:
        found, after = [], None
        while papers := embeddings.missing("m", limit=size, after=after):
            found.append([paper["title"] for paper in papers])
            after = cursor_of(papers[-1])
        return found

    undated = [row["title"] for row in sorted(
        (service.store.paper_by_title(f"Undated {n}") for n in (0, 2)),
        key=lambda row: row["id"], reverse=True)]
    wanted = ["Paper 2503.00004", "Paper 2503.00003", "Paper 2503.00001", *undated]
    assert batches(2) == [wanted[:2], wanted[2:4], wanted[4:]]
    assert sum(batches(1), []) == wanted == sum(batches(10), [])
    assert len(embeddings.missing("another model", limit=10)) == 7


def test_only_http_links_from_sources_are_kept_and_shown(service: Paperboy) -> None:
    """A `javascript:` project page (Hugging Face) or PDF (Semantic Scholar) never becomes a
    link: not stored, and not shown from a row stored before links were checked."""
    from paperboy.web.views import card

    hostile = PaperRecord(
        source="hf_daily", position="paper 1", arxiv_id="2606.00001", title="Hostile links",
        links=Links(project="javascript:alert(document.cookie)", pdf=" JaVaScRiPt:alert(1)",
                    code=["javascript:alert(2)", "https://github.com/owner/repo"]))
    _write(service, hostile)
    paper = service.paper("2606.00001")
    assert paper["links"]["project"] is None and paper["links"]["pdf"] is None
    assert paper["links"]["code"] == ["https://github.com/owner/repo"]
    old_row = {**paper, "links": {"abstract": "data:text/html,<script>alert(1)</script>",
                                  "pdf": "https://arxiv.org/pdf/2606.00001", "project": None,
                                  "code": ["javascript:alert(3)"]}}
    shown = card(old_row, "https://papers.example.org")
    assert shown["links"]["abstract"] is None
    assert shown["links"]["pdf"] == "https://arxiv.org/pdf/2606.00001"
    assert shown["code"] == []
