"""`paperboy demo` as a newcomer first sees it, in Chromium: a living site (dated papers with
authors, trending papers with their reasons, the "as of" day the demo's clock stands on)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from browser import screenshot, watched_page
from playwright.sync_api import Browser, expect


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`paperboy demo --port 0` in a subprocess (its own temporary home); yields its URL."""
    folder = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "TMPDIR": str(folder), "PAPERBOY_HOME": "", "COLUMNS": "200",
           "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64"}
    process = subprocess.Popen([sys.executable, "-m", "paperboy", "demo", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    assert process.stdout is not None
    seen = []
    started = time.monotonic()
    for line in process.stdout:
        seen.append(line)
        if found := re.search(r"serving .* at (http://localhost:\d+)", line):
            break
    else:
        raise AssertionError("".join(seen))
    url = found.group(1)
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    assert time.monotonic() - started < 60
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_the_demo_home_shows_dated_papers_with_authors_and_trending(
        browser: Browser, demo: str, problems: list[str]) -> None:
    with watched_page(browser, demo, problems, viewport={"width": 1280, "height": 900}) as page:
        page.goto("/")
        expect(page.locator(".as-of")).to_contain_text("as of 2026-06-12")
        cards = page.locator("main .card")
        expect(cards.first).to_be_visible()
        first = cards.first
        expect(first.locator("time.date")).to_have_text(re.compile(r"^2026-06-\d\d$"))
        expect(first.locator(".authors")).not_to_be_empty()
        trending = page.locator(".trending-list li")
        expect(trending.first).to_be_visible()
        assert trending.count() >= 3
        expect(trending.first.locator(".why")).to_contain_text("upvotes")
        assert "Nothing has gained" not in page.locator("main").inner_text()
        screenshot(page, "demo-home")

        page.goto("/daily")
        expect(page).to_have_url(re.compile(r"/daily/2026-06-12$"))
        assert page.locator("main .card").count() >= 20
        page.goto("/trending?window=month")
        assert page.locator(".trending-full > li").count() >= 6
