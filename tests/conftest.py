"""Shared test fixtures: the recorded source files, and real databases (SQLite and PostgreSQL).

PostgreSQL comes from `PAPERBOY_TEST_POSTGRES_URL` when set, else the `pgserver` package starts a
real PostgreSQL 16 for the session; each test gets a database of its own.
"""

from __future__ import annotations

import importlib.util
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mailcheck
import pytest
from aiosmtpd.controller import Controller
from browser import chromium
from playwright.sync_api import Browser
from smtpserver import EphemeralController, Inbox
from sqlalchemy.engine import make_url

from paperboy.clock import FixedClock
from paperboy.service import Paperboy
from paperboy.settings import Settings


def _shared() -> Path:
    """The project's shared folder (fixtures, corpus, eval), beside the checkout by default."""
    candidates = [os.environ.get("PAPERBOY_SHARED_DIR"),
                  Path(__file__).resolve().parents[2] / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "fixtures").is_dir():
            return Path(candidate)
    raise pytest.UsageError("the shared fixtures folder was not found: set PAPERBOY_SHARED_DIR "
                            "to the folder that holds fixtures/, corpus/ and eval/")


SHARED = _shared()
FIXTURES = SHARED / "fixtures"
LISTING = SHARED / "corpus" / "listing_kernel_search.txt"

# The fixture files that together hold 278 distinct papers.
PAPER_FIXTURES = [
    FIXTURES / name for name in (
        "arxiv_api_query.xml", "arxiv_api_query_legacy.xml", "arxiv_oai_listrecords.xml",
        "arxiv_oai_listrecords_arXiv_prefix.xml", "arxiv_kaggle_snapshot.jsonl",
        "hf_daily_papers.json", "arxiv_rss.xml", "s2_paper_batch.json", "s2_paper_search.json",
    )
] + [LISTING]

# The moment the tests run at, whatever day it is: a few days after the recorded Hugging Face
# daily papers (2026-05-29 to 2026-06-12), after the daily chain's hour (05:00 UTC) and before
# the readers' default digest hour (07:00). Services get it through their `clock` seam.
NOW = datetime(2026, 6, 15, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Models exported to ONNX (embed/loader.py) go to a cache of this test session, not the
    user's ~/.cache; the `paperboy` subprocesses the tests start share it."""
    folder = tmp_path_factory.mktemp("cache")
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("PAPERBOY_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        import pgserver
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL tests need the pgserver package (pip install -e '.[test]')")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    import psycopg

    server = make_url(request.getfixturevalue("postgres_server"))
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_quality() -> Any:
    """bench/quality.py as a module: the plain baselines and per-type scoring it reports."""
    path = Path(__file__).resolve().parents[1] / "bench" / "quality.py"
    spec = importlib.util.spec_from_file_location("bench_quality", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.SHARED = SHARED  # the folder the tests found, wherever the checkout is
    return module


def fixture_home(home: Path, model: str = "hashing-64") -> Path:
    """A home holding the fixtures' papers, embedded with `model`, closed again (for a
    `paperboy` subprocess to serve)."""
    from paperboy.service import Paperboy

    service = Paperboy(make_settings(home, embedding_model=model))
    try:
        service.ingest([str(p) for p in PAPER_FIXTURES])
        service.embed()
    finally:
        service.close()
    return home


def newest_link(mailbox: Path, base_url: str, path: str) -> str:
    """The `path...` link (without `base_url`) in the plain text of the newest mail a
    `file:` mailbox holds, as a reader's mail client shows it."""
    from email import policy as email_policy
    from email.parser import BytesParser

    newest = max(mailbox.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
    body = BytesParser(policy=email_policy.default).parsebytes(newest.read_bytes()).get_body(
        preferencelist=("plain",))
    assert body is not None
    found = re.search(rf"{re.escape(base_url)}({re.escape(path)}\S+)", body.get_content())
    assert found is not None, f"no {path} link in {newest}"
    return found.group(1)


def make_settings(home: Path, database_url: str = "", **overrides: object) -> Settings:
    """Settings that touch nothing outside the test: no environment, no real services."""
    return Settings.load(env={}, home=home, database_url=database_url, arxiv_interval_s=0.0,
                         **overrides)


@pytest.fixture
def clock() -> FixedClock:
    """The tests' clock: `NOW` until a test moves it."""
    return FixedClock(NOW)


@pytest.fixture
def service(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(tmp_path / "home", database_url), clock=clock)
    yield paperboy
    paperboy.close()


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Inbox, int]]]:
    """Start a real SMTP server on 127.0.0.1 with the given aiosmtpd options, requiring a
    login as "reader" when `auth`; returns its Inbox and port."""
    controllers: list[Controller] = []
    inboxes: list[Inbox] = []

    def start(*, auth: bool = False, **options: Any) -> tuple[Inbox, int]:
        inbox = Inbox()
        inboxes.append(inbox)
        if auth:
            options.update(authenticator=inbox.authenticate, auth_required=True)
        controller = EphemeralController(inbox, hostname="127.0.0.1", port=0,
                                         server_hostname="mx.test", **options)
        controller.start()
        controllers.append(controller)
        return inbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()
    # every message Paperboy sent, as a mail provider reads its bytes (tests/mailcheck.py)
    for mail in (mail for inbox in inboxes for mail in inbox.received):
        assert not mailcheck.problems(mail.content), (mailcheck.problems(mail.content),
                                                      mail.content[:2000])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, for the browser tests (see browser.py)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def problems() -> list[str]:
    """Console errors, uncaught exceptions and CSP violations of the test's pages."""
    return []


def follow_emailed_link(client: Any, url: str, **options: Any) -> Any:
    """Open an emailed confirmation or sign-in link as a reader does: the page it opens, then
    its button (a POST, so that a prefetch spends nothing). `client` is an httpx or Starlette
    test client; returns the final response."""
    from urllib.parse import parse_qs, urlsplit

    page = client.get(url)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    parts = urlsplit(url)
    token = parse_qs(parts.query).get("token", [""])[0]
    return client.post(parts._replace(query="").geturl(),
                       data={"token": token, "csrf": csrf.group(1) if csrf else ""},
                       follow_redirects=True, **options)


def mails_sent(app_or_client: Any, timeout: float = 30.0) -> bool:
    """Wait until the account emails the app queued have gone out (readers/outbox.py): the
    forms answer first and send after. Takes the app or a test client of it."""
    app = getattr(app_or_client, "app", app_or_client)
    return bool(app.state.accounts.outbox.wait_idle(timeout))
