"""What the browser tests share: Debian's Chromium through Playwright, `paperboy serve` in a
subprocess, and pages that record console errors, uncaught exceptions and CSP violations."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(home: Path, port: int, env: dict[str, str],
            args: tuple[str, ...] = ()) -> Iterator[str]:
    """`paperboy serve` (no schedule; `args` added) in a subprocess; yields its URL once
    /healthz answers."""
    url = f"http://127.0.0.1:{port}"
    log = home.parent / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "paperboy", "--home", str(home), "serve", "--no-schedule",
             "--host", "127.0.0.1", "--port", str(port), *args],
            env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"paperboy serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no answer on {url}/healthz:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system's Chromium; the tests skip without it, except in CI where they fail."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise pytest.UsageError(f"the browser tests need Chromium at {CHROMIUM}")
        pytest.skip(f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    expect.set_options(timeout=10_000)  # a debounced search on a busy two-core CI machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def watched_page(browser: Browser, base_url: str, problems: list[str], *,
                 viewport: dict[str, int] | None = None) -> Iterator[Page]:
    """A page whose console errors, uncaught exceptions and CSP violations go to `problems`;
    the test fails if there are any."""
    context = browser.new_context(base_url=base_url,
                                  viewport=viewport or {"width": 1280, "height": 900})
    context.expose_function("__cspViolation", lambda text: problems.append(f"CSP: {text}"))
    context.add_init_script("document.addEventListener('securitypolicyviolation', (e) => "
                            "window.__cspViolation(`${e.violatedDirective} ${e.blockedURI}`));")
    page = context.new_page()
    page.on("console", lambda message: problems.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert problems == [], "the pages logged errors"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
