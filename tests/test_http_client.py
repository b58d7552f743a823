"""HttpClient against a real local server: retries, Retry-After, politeness and error reporting.

Waits are observed through the client's `sleep`/`clock` seams with a fake clock, so the suite
checks multi-second behaviour without sleeping for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import FIXTURES

from paperboy.models import SourceError
from paperboy.sources.http import (
    DEFAULT_USER_AGENT,
    FetchError,
    HostUnreachable,
    HttpClient,
    parse_retry_after,
)
from tests.httpserver import LocalServer, Reply


def fixture(name: str) -> Path:
    return FIXTURES / name


class FakeTime:
    """A monotonic clock that only moves when the client sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.waits: list[tuple[float, str]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def on_wait(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake: FakeTime) -> Iterator[HttpClient]:
    with HttpClient(
        timeout_s=5, sleep=fake.sleep, clock=fake.clock, on_wait=fake.on_wait
    ) as c:
        yield c


def test_503_then_200_succeeds_after_one_retry(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    server.route("/api/query", [Reply(503, b"busy"), Reply(200, b"<feed/>")])

    response = client.get(server.url("/api/query"), params={"search_query": "cat:cs.LG"})

    assert response.status_code == 200
    assert response.content == b"<feed/>"
    assert len(server.requests) == 2
    assert all(r.param("search_query") == "cat:cs.LG" for r in server.requests)
    assert fake.sleeps == [1.0]  # default backoff_s for the first retry
    assert "503" in fake.waits[0][1]


def test_429_retry_after_seconds_is_honoured(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    server.route("/p", [Reply(429, headers={"Retry-After": "2"}), Reply(200, b"ok")])

    assert client.get(server.url("/p")).text == "ok"

    assert fake.sleeps == [2.0]
    assert "Retry-After" in fake.waits[0][1]
    assert len(server.requests) == 2


def test_503_retry_after_http_date_is_measured_from_the_response_date(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    sent = datetime(2026, 6, 12, 10, 0, 0, tzinfo=UTC)
    headers = {
        "Date": format_datetime(sent, usegmt=True),
        "Retry-After": format_datetime(sent + timedelta(seconds=7), usegmt=True),
    }
    server.route("/p", [Reply(503, headers=headers), Reply(200, b"ok")])

    assert client.get(server.url("/p")).text == "ok"

    assert fake.sleeps == [7.0]


def test_retry_after_is_capped(server: LocalServer, fake: FakeTime) -> None:
    server.route("/p", [Reply(429, headers={"Retry-After": "86400"}), Reply(200, b"ok")])
    with HttpClient(max_retry_after_s=120, sleep=fake.sleep, clock=fake.clock) as client:
        client.get(server.url("/p"))

    assert fake.sleeps == [120.0]


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_connection_dropped_mid_body_is_retried_and_full_body_returned(
    server: LocalServer, client: HttpClient, reset: bool
) -> None:
    body = fixture("arxiv_api_query.xml").read_bytes()
    server.route(
        "/api/query",
        [Reply.dropped(body, reset=reset), Reply.file(fixture("arxiv_api_query.xml"))],
    )

    response = client.get(server.url("/api/query"))

    assert response.content == body
    assert len(server.requests) == 2


def test_read_timeout_is_retried(server: LocalServer, fake: FakeTime) -> None:
    server.route("/slow", [Reply(200, b"late", delay_s=2.0), Reply(200, b"fast")])
    with HttpClient(
        timeout_s=0.2, sleep=fake.sleep, clock=fake.clock, on_wait=fake.on_wait
    ) as client:
        assert client.get(server.url("/slow")).text == "fast"

    assert len(server.requests_to("/slow")) == 2
    assert fake.sleeps == [1.0]
    assert "ReadTimeout" in fake.waits[0][1]


def test_404_fails_at_once_with_status_and_body(server: LocalServer, client: HttpClient) -> None:
    server.route("/missing", Reply(404, b"no such paper"))

    with pytest.raises(FetchError) as info:
        client.get(server.url("/missing"))

    err = info.value
    assert isinstance(err, SourceError)  # callers catching SourceError see fetch failures too
    assert err.status == 404
    assert err.attempts == 1
    assert err.body == "no such paper"
    assert err.url == server.url("/missing")
    assert "404" in str(err) and server.url("/missing") in str(err)
    assert len(server.requests) == 1


def test_unrouted_path_is_a_404(server: LocalServer, client: HttpClient) -> None:
    with pytest.raises(FetchError) as info:
        client.get(server.url("/nowhere"))
    assert info.value.status == 404


def test_400_atom_error_feed_is_kept_on_the_exception(
    server: LocalServer, client: HttpClient
) -> None:
    feed = fixture("arxiv_api_error.xml")
    server.route("/api/query", Reply.file(feed, "application/atom+xml", status=400))

    with pytest.raises(FetchError) as info:
        client.get(server.url("/api/query"), params={"id_list": "abc"})

    err = info.value
    assert err.status == 400
    assert err.content == feed.read_bytes()
    assert "<title>Error</title>" in err.body
    assert err.url.endswith("/api/query?id_list=abc")
    assert len(server.requests) == 1


def test_error_body_text_is_truncated_but_bytes_are_kept(
    server: LocalServer, client: HttpClient
) -> None:
    big = b"x" * 10_000
    server.route("/big", Reply(403, big))

    with pytest.raises(FetchError) as info:
        client.get(server.url("/big"))

    assert len(info.value.body) == 2048
    assert info.value.content == big


def test_exhausted_retries_name_url_status_and_attempts(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    server.route("/api/query", Reply(503, b"busy"))
    url = server.url("/api/query")

    with pytest.raises(FetchError) as info:
        client.get(url)

    err = info.value
    assert str(err) == f"GET {url} failed after 5 attempts: HTTP 503 Service Unavailable"
    assert (err.url, err.status, err.attempts) == (url, 503, 5)
    assert len(server.requests) == 5
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0]  # no pointless wait after the last attempt


def test_exhausted_retries_on_connection_errors_have_no_status(fake: FakeTime) -> None:
    with LocalServer() as srv:
        url = srv.url("/gone")  # the port is free again once the server is closed
    with HttpClient(retries=2, sleep=fake.sleep, clock=fake.clock,
                    unreachable_after=10) as client:
        with pytest.raises(FetchError) as info:
            client.get(url)

    assert info.value.status is None
    assert info.value.attempts == 3
    assert "after 3 attempts" in str(info.value)


def test_a_host_that_refuses_connections_is_given_up_on_and_not_tried_again(
        server: LocalServer, fake: FakeTime) -> None:
    with LocalServer() as srv:
        gone = srv.url("/gone")  # nothing listens there once the server is closed
    server.route("/ok", Reply(200, b"fine"))
    with HttpClient(retries=4, sleep=fake.sleep, clock=fake.clock) as client:
        with pytest.raises(HostUnreachable) as first:
            client.get(gone)
        assert first.value.attempts == 3 and fake.sleeps == [1.0, 2.0]
        assert "gave up on 127.0.0.1 after 3 failed connection attempts in a row" in \
            str(first.value)
        assert "Connection refused" in str(first.value)
        for path in ("/gone", "/other"):  # every later request to it: at once, no waiting
            with pytest.raises(HostUnreachable) as later:
                client.get(gone.replace("/gone", path))
            assert later.value.attempts == 0 and "not tried" in str(later.value)
        assert fake.sleeps == [1.0, 2.0]
        # another host is not affected
        assert client.get(server.url("/ok").replace("127.0.0.1", "localhost")).text == "fine"


def test_backoff_grows_exponentially_and_is_capped(server: LocalServer, fake: FakeTime) -> None:
    server.route("/p", Reply(500))
    with HttpClient(
        retries=6, backoff_s=1.0, max_backoff_s=10.0, sleep=fake.sleep, clock=fake.clock
    ) as client:
        with pytest.raises(FetchError):
            client.get(server.url("/p"))

    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_user_agent_and_extra_headers_are_sent(server: LocalServer, client: HttpClient) -> None:
    server.route("/p", Reply(200, b"ok"))

    client.get(server.url("/p"), headers={"Accept": "application/atom+xml"})

    sent = server.requests[0].headers
    assert sent["User-Agent"] == DEFAULT_USER_AGENT
    assert sent["Accept"] == "application/atom+xml"


def test_custom_user_agent(server: LocalServer) -> None:
    server.route("/p", Reply(200, b"ok"))
    with HttpClient(user_agent="paperboy-test (mailto:me@example.org)") as client:
        client.get(server.url("/p"))

    assert server.requests[0].headers["user-agent"] == "paperboy-test (mailto:me@example.org)"


def test_post_sends_json_and_params(server: LocalServer, client: HttpClient) -> None:
    batch = fixture("s2_paper_batch.json")
    server.route("/graph/v1/paper/batch", [Reply(502), Reply.file(batch)])

    response = client.post(
        server.url("/graph/v1/paper/batch"),
        json={"ids": ["CorpusId:211530585"]},
        params={"fields": "title,year"},
    )

    assert response.content == batch.read_bytes()
    assert response.json()[0] is None
    first, second = server.requests
    assert first.method == second.method == "POST"
    assert second.body == b'{"ids":["CorpusId:211530585"]}'
    assert second.param("fields") == "title,year"


def test_min_interval_spaces_request_starts_to_one_host(
    server: LocalServer, fake: FakeTime
) -> None:
    server.route("/api/query", Reply(200, b"ok"))
    with HttpClient(
        min_interval_s=3, sleep=fake.sleep, clock=fake.clock, on_wait=fake.on_wait
    ) as client:
        client.get(server.url("/api/query"))
        assert fake.sleeps == []  # the first request goes at once

        client.get(server.url("/api/query"))
        assert fake.sleeps == [3.0]
        assert "rate limit" in fake.waits[-1][1]

        fake.now += 1.0  # the caller spent a second parsing
        client.get(server.url("/api/query"))
        assert fake.sleeps == [3.0, 2.0]

        fake.now += 10.0  # long enough ago: no wait
        client.get(server.url("/api/query"))
        assert fake.sleeps == [3.0, 2.0]

    assert len(server.requests) == 4


def test_min_interval_also_spaces_retries(server: LocalServer, fake: FakeTime) -> None:
    server.route("/p", [Reply(503, headers={"Retry-After": "1"}), Reply(200, b"ok")])
    with HttpClient(min_interval_s=3, sleep=fake.sleep, clock=fake.clock) as client:
        client.get(server.url("/p"))

    # Retry-After asked for 1 s, but the host's 3 s spacing still applies to the retry.
    assert fake.sleeps == [1.0, 2.0]


def test_min_interval_is_per_host(server: LocalServer, fake: FakeTime) -> None:
    server.route("/p", Reply(200, b"ok"))
    with HttpClient(min_interval_s=3, sleep=fake.sleep, clock=fake.clock) as client:
        client.get(f"http://127.0.0.1:{server.port}/p")
        client.get(f"http://localhost:{server.port}/p")

    assert fake.sleeps == []


def test_fixture_file_bytes_arrive_intact(server: LocalServer, client: HttpClient) -> None:
    path = fixture("arxiv_api_query.xml")
    server.route("/api/query", Reply.file(path, content_type="application/atom+xml"))

    response = client.get(server.url("/api/query"))

    assert response.content == path.read_bytes()
    assert response.headers["content-type"] == "application/atom+xml"


def test_304_is_returned_not_raised(server: LocalServer, client: HttpClient) -> None:
    server.route("/feed", Reply(304, headers={"ETag": '"abc"'}))

    response = client.get(server.url("/feed"), headers={"If-None-Match": '"abc"'})

    assert response.status_code == 304


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("120", None, 120.0),
        ("1.5", None, 1.5),
        ("Fri, 12 Jun 2026 10:00:30 GMT", "Fri, 12 Jun 2026 10:00:00 GMT", 30.0),
        ("Fri, 12 Jun 2026 09:00:00 GMT", "Fri, 12 Jun 2026 10:00:00 GMT", 0.0),
        ("soon", None, None),
    ],
)
def test_parse_retry_after(value: str, date: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, date_header=date) == expected


def test_unreadable_retry_after_falls_back_to_backoff(
    server: LocalServer, client: HttpClient, fake: FakeTime
) -> None:
    server.route("/p", [Reply(429, headers={"Retry-After": "soon"}), Reply(200, b"ok")])

    client.get(server.url("/p"))

    assert fake.sleeps == [1.0]
