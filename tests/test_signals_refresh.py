"""`paperboy signals refresh` against a GitHub API served from 127.0.0.1, into a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES
from httpserver import LocalServer, Reply
from test_github_stars import repository
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.clock import FixedClock
from paperboy.service import Paperboy
from paperboy.settings import Settings
from paperboy.signals.refresh import linked_repositories

HF_DAILY = FIXTURES / "hf_daily_papers.json"
MOVED = "jayoohwang1/webchallenger"
GONE = "SAP/toolsense"
WATCHED = "r-three/risk-under-pressure"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def _ok(repo: str, stars: int, *, etag: str = '"e1"', created: str = "2023-01-05T10:00:00Z",
        ) -> Reply:
    return Reply(200, repository(repo, repo_id=7, stars=stars, created_at=created),
                 headers={"Content-Type": "application/json", "ETag": etag,
                          "X-RateLimit-Remaining": "50", "X-RateLimit-Reset": "9999999999"})


def _run(home: Path, server: LocalServer, clock: FixedClock, *args: str) -> tuple[int, str]:
    """Run a command at the clock's time; the next one runs a minute later."""
    env = {"PAPERBOY_GITHUB_API_URL": server.base_url, "PAPERBOY_DATABASE_URL": "",
           "PAPERBOY_HTTP_BACKOFF_S": "0", "GITHUB_TOKEN": "ghp_test"}
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env, obj=clock)
    clock.advance(timedelta(minutes=1))
    return result.exit_code, result.stdout


def test_refresh_records_stars_etags_moves_and_gone_repositories(
        tmp_path: Path, server: LocalServer, clock: FixedClock) -> None:
    home = tmp_path / "home"
    service = Paperboy(Settings.load(env={}, home=home), clock=clock)
    service.ingest([str(HF_DAILY)])
    linked = linked_repositories(service.store)
    service.close()
    assert {MOVED, GONE, WATCHED} <= set(linked)
    for repo in linked:
        server.route(f"/repos/{repo}", [_ok(repo, 40), Reply(304, headers={"ETag": '"e1"'})])
    server.route(f"/repos/{WATCHED}", [_ok(WATCHED, 40), _ok(WATCHED, 75, etag='"e2"')])
    server.route(f"/repos/{GONE}", Reply(404, b'{"message": "Not Found"}'))
    server.route(f"/repos/{MOVED}", Reply(301, b'{"message": "Moved Permanently"}', headers={
        "Location": server.url("/repositories/4242")}))
    server.route("/repositories/4242", _ok("jayoo/web-challenger", 12))

    code, out = _run(home, server, clock, "signals", "refresh", "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["repositories"] == len(linked)
    assert (first["moved"], first["gone"], first["failed"]) == (1, 1, 0)
    assert first["updated"] == len(linked) - 2
    assert server.requests_to(f"/repos/{WATCHED}")[0].headers["authorization"] == \
        "Bearer ghp_test"

    code, out = _run(home, server, clock, "signals", "refresh", "--json")
    second = json.loads(out)
    assert second["skipped_gone"] == 1 and len(server.requests_to(f"/repos/{GONE}")) == 1
    assert second["updated"] == 1 and second["unchanged"] == len(linked) - 3
    conditional = server.requests_to(f"/repos/{WATCHED}")[1]
    assert conditional.headers["if-none-match"] == '"e1"'

    service = Paperboy(Settings.load(env={}, home=home), clock=clock)
    repos = service.store.signals.repositories()
    assert repos[MOVED]["status"] == "moved" and repos[MOVED]["moved_to"] == "jayoo/web-challenger"
    assert repos[GONE]["status"] == "gone"
    unchanged = next(r for r in linked if r not in {MOVED, GONE, WATCHED})
    assert repos[unchanged]["status"] == "unchanged" and repos[unchanged]["stars"] == 40
    (paper_id,) = linked[WATCHED]
    stars = [(e["value"], e["gain"]) for e in service.store.signals.history([paper_id])
             if e["kind"] == "stars"]
    # the Hugging Face snapshot (a baseline), then ours: +39 over it, then +35
    assert stars == [(1, 0), (40, 39), (75, 35)]
    service.close()


def test_a_new_paper_with_a_new_repository_trends_on_its_first_check(
        tmp_path: Path, server: LocalServer, clock: FixedClock) -> None:
    home = tmp_path / "home"
    now = clock()
    listing = tmp_path / "new.json"
    entry = json.loads(HF_DAILY.read_text())[1]
    entry["paper"] |= {"publishedAt": (now - timedelta(days=2)).isoformat(), "upvotes": 0,
                       "githubStars": None, "submittedOnDailyAt": None}
    entry["publishedAt"] = None
    listing.write_text(json.dumps([entry]))
    service = Paperboy(Settings.load(env={}, home=home), clock=clock)
    service.ingest([str(listing)])
    (repo,) = linked_repositories(service.store)
    service.close()
    created = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.route(f"/repos/{repo}", _ok(repo, 250, created=created))
    assert _run(home, server, clock, "signals", "refresh")[0] == 0
    code, out = _run(home, server, clock, "trending", "--json")
    (trending,) = json.loads(out)
    assert trending["id"] == entry["paper"]["id"]
    assert trending["explanation"] == "+250 stars in the last 7 days"


def test_a_failing_api_is_reported_and_exits_non_zero(tmp_path: Path, server: LocalServer,
                                                       clock: FixedClock) -> None:
    home = tmp_path / "home"
    service = Paperboy(Settings.load(env={}, home=home), clock=clock)
    service.ingest([str(HF_DAILY)])
    linked = linked_repositories(service.store)
    service.close()
    for repo in linked:
        server.route(f"/repos/{repo}", Reply(502, b"Bad Gateway"))
    code, out = _run(home, server, clock, "signals", "refresh", "--limit", "2", "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["repositories"] == 2 and summary["failed"] == 2
    assert all(any(repo in error for repo in linked) and "502" in error
               for error in summary["errors"])
