"""Hugging Face's own client against a real `paperboy serve`: huggingface_hub's `HfApi` and the
`hf papers` commands pointed at `/hf` read daily papers, search, a paper and its Markdown, with
the values Paperboy's own API gives; the user's HF token they send is never logged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from browser import free_port, serving
from conftest import fixture_home
from huggingface_hub import HfApi

MODEL = "hashing-64"
TOKEN = "hf_NeverLogThisTokenAnywhere1234567890"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixture_home(tmp_path_factory.mktemp("hf") / "home", MODEL)


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[str]:
    env = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": MODEL}
    with serving(home, free_port(), env) as url:
        yield url


@pytest.fixture(scope="module")
def hub(server: str) -> HfApi:
    return HfApi(endpoint=f"{server}/hf", token=False)


def _own(server: str, path: str, **params: object) -> dict:  # type: ignore[type-arg]
    answer = httpx.get(f"{server}{path}", params=params, timeout=30)  # type: ignore[arg-type]
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def test_list_daily_papers_by_day_week_and_month_as_paperboy_lists_them(
        hub: HfApi, server: str) -> None:
    day = "2026-06-11"
    own = _own(server, f"/api/daily/{day}", limit=100)["results"]
    papers = list(hub.list_daily_papers(date=day))
    assert [p.id for p in papers] == [p["arxiv_id"] or p["id"] for p in own] and papers
    first, card = papers[0], own[0]
    assert first.title == card["title"] and first.summary == card["abstract"]
    assert [a.name for a in first.authors or []] == card["authors"]
    assert first.published_at is not None and first.published_at.isoformat()[:10] == day
    assert first.upvotes == card["upvotes"]

    week = list(hub.list_daily_papers(week="2026-W24", limit=100))  # June 8 to 14
    month = list(hub.list_daily_papers(month="2026-06", limit=100))
    in_week = {p["id"] for d in range(8, 15)
               for p in _own(server, f"/api/daily/2026-06-{d:02d}", limit=100)["results"]}
    assert {p.id for p in week} == in_week and len(month) >= len(week) > len(papers)
    assert all(p.published_at and p.published_at.month == 6 for p in month)
    assert [p.id for p in hub.list_daily_papers(month="2026-06", limit=3, p=1)] == \
        [p.id for p in month[3:6]]


def test_trending_daily_papers_follow_paperboys_trending_ranking(hub: HfApi,
                                                                  server: str) -> None:
    ranked = _own(server, "/api/trending", window="month", at="2026-06-30", limit=100)
    month = {p.id for p in hub.list_daily_papers(month="2026-06", limit=100)}
    expected = [entry["paper"]["arxiv_id"] for entry in ranked["results"]
                if entry["paper"] and entry["paper"]["arxiv_id"] in month]
    trending = [p.id for p in hub.list_daily_papers(month="2026-06", sort="trending",
                                                    limit=100)]
    assert expected and trending[:len(expected)] == expected
    assert set(trending) == month  # the others follow, newest first


def test_submitter_search_paper_info_and_read_paper(hub: HfApi, server: str) -> None:
    mine = [p for month in ("2026-05", "2026-06")  # published in May and in June
            for p in hub.list_daily_papers(month=month, submitter="rkocielnik", limit=100)]
    assert {p.id for p in mine} == {"2606.00467", "2606.12730"}
    assert all(p.submitted_by and p.submitted_by.username == "RKocielnik" for p in mine)

    found = list(hub.list_papers(query="kernel thinning", limit=5))
    own = _own(server, "/api/search", q="kernel thinning", limit=5)["results"]
    assert [p.id for p in found] == [r["id"] for r in own] and len(found) == 5

    info = hub.paper_info("2606.11409")  # a Hugging Face daily paper, with its repository
    card = _own(server, "/api/papers/2606.11409")
    assert info.title == card["title"] and info.upvotes == card["upvotes"] >= 8
    assert info.github_repo == "https://github.com/r-three/risk-under-pressure"
    assert info.ai_summary == card["summary"] and info.ai_keywords == card["keywords"]
    assert info.published_at is not None and info.submitted_at is not None
    markdown = hub.read_paper("2606.11409")
    assert markdown.startswith(f"# {card['title']}") and "## Abstract" in markdown
    assert "<html" not in markdown
    with pytest.raises(Exception, match="404"):
        hub.paper_info("2612.99999")


def test_the_hf_papers_commands(server: str, tmp_path: Path) -> None:
    hf = shutil.which("hf") or str(Path(sys.executable).with_name("hf"))
    env = {**os.environ, "HF_ENDPOINT": f"{server}/hf", "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_UPDATE_CHECK": "1", "NO_COLOR": "1"}

    def run(*args: str) -> str:
        done = subprocess.run([hf, "papers", *args], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"hf papers {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    listed = json.loads(run("ls", "--date", "2026-06-11", "--format", "json"))
    assert [p["id"] for p in listed] == [
        p["arxiv_id"] or p["id"]
        for p in _own(server, "/api/daily/2026-06-11", limit=100)["results"]][:50]
    searched = json.loads(run("search", "kernel thinning", "--format", "json"))
    assert searched and searched[0]["id"] == _own(
        server, "/api/search", q="kernel thinning", limit=1)["results"][0]["id"]
    info = json.loads(run("info", "2606.11409", "--format", "json"))
    assert info["id"] == "2606.11409" and info["github_stars"] is not None
    assert run("read", "2606.11409").startswith("# ")


def test_routes_the_hub_and_paperboy_share_and_tokens_kept_out_of_the_log(
        server: str, home: Path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    own = httpx.get(f"{server}/api/papers/search", params={"q": "kernel"}, headers=headers)
    assert own.status_code == 200 and own.json()["results"]  # not taken for a paper id
    for path in ("/papers/2606.11409.md", "/hf/papers/2606.11409.md"):
        answer = httpx.get(f"{server}{path}", headers=headers)
        assert answer.headers["content-type"].startswith("text/markdown"), path
    asked = httpx.get(f"{server}/papers/2606.11409", headers={"Accept": "text/markdown"})
    assert asked.headers["content-type"].startswith("text/markdown")
    assert httpx.get(f"{server}/papers/2606.11409").headers["content-type"].startswith(
        "text/html")
    assert httpx.get(f"{server}/hf/api/agent-harnesses").json() == {}
    listed, url = [], f"{server}/hf/api/papers?limit=100"  # every paper, by the Link header
    while url:
        page = httpx.get(url)
        listed += [p["id"] for p in page.json()]
        url = page.links.get("next", {}).get("url")
    assert len(listed) == len(set(listed)) == httpx.get(f"{server}/healthz").json()["papers"]
    for params in ({"week": "2026-W60"}, {"month": "2026-13"}, {"date": "2026-6-1"},
                   {"limit": "1000"}, {"p": "-1"}):
        bad = httpx.get(f"{server}/hf/api/daily_papers", params=params, headers=headers)
        assert bad.status_code == 422 and "error" in bad.json(), params
    assert httpx.get(f"{server}/hf/api/papers/search", params={"q": "x" * 251}
                     ).status_code == 422
    assert TOKEN not in (home.parent / "serve.log").read_text()


def test_a_week_covers_monday_to_sunday() -> None:
    from paperboy.web.hf import _range

    first, last, window = _range(None, "2026-W01", None, None)
    assert (first, last, window) == (date(2025, 12, 29), date(2026, 1, 4), "week")
    first, last, _ = _range(None, None, "2024-02", None)
    assert last - first == timedelta(days=28)  # a leap year's February
    assert _range(None, "2026-W53", None, None)[0] == date(2026, 12, 28)  # 2026 has 53
    assert _range(None, "2025-W53", None, None)[0] == date(2025, 12, 29)  # = 2026-W01
    assert _range(date(2026, 6, 1), "2026-W01", "2026-02", None)[0] == date(2026, 6, 1)
