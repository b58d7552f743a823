"""Many replicas on one database: leases on shared work, embedding twice at once, and two real
`paperboy serve` processes on one PostgreSQL sending one digest per reader, running the daily
chain once and accepting each other's sessions.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, LISTING, PAPER_FIXTURES, follow_emailed_link, make_settings
from smtpserver import Inbox
from sqlalchemy import func, select

from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.schedule import tick
from paperboy.service import Paperboy
from paperboy.store import Store, tables
from paperboy.store.leases import Leases, held, process_holder

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "one-key-for-every-replica"
READERS = [f"reader{n}@example.org" for n in range(5)]


@pytest.fixture
def leases(database_url: str) -> Iterator[Leases]:
    store = Store.open(database_url)
    yield store.leases
    store.close()


def test_a_lease_is_one_holders_until_it_expires_or_is_released(leases: Leases) -> None:
    assert leases.acquire("daily", "a", 60, now=NOW)
    assert not leases.acquire("daily", "b", 60, now=NOW + timedelta(seconds=30))
    assert leases.holder("daily", now=NOW + timedelta(seconds=30)) == "a"
    assert leases.acquire("daily", "a", 60, now=NOW + timedelta(seconds=30))  # ours: extended
    assert leases.renew("daily", "a", 60, now=NOW + timedelta(seconds=80))
    assert not leases.acquire("daily", "b", 60, now=NOW + timedelta(seconds=139))
    # expired: the next one takes it, and the old holder can no longer renew or release it
    assert leases.acquire("daily", "b", 60, now=NOW + timedelta(seconds=141))
    assert not leases.renew("daily", "a", 60, now=NOW + timedelta(seconds=142))
    leases.release("daily", "a", now=NOW + timedelta(seconds=142))
    assert leases.holder("daily", now=NOW + timedelta(seconds=142)) == "b"
    leases.release("daily", "b", now=NOW + timedelta(seconds=143))
    assert leases.holder("daily", now=NOW + timedelta(seconds=143)) is None
    assert leases.acquire("daily", "c", 60, now=NOW + timedelta(seconds=143))
    assert leases.acquire("digest", "a", 60, now=NOW + timedelta(seconds=143))  # another name


@pytest.mark.parametrize("existing", [False, True], ids=["new", "expired"])
def test_of_many_processes_racing_for_a_lease_exactly_one_gets_it(leases: Leases,
                                                                   existing: bool) -> None:
    if existing:  # the race is then on the UPDATE of an expired row, not on the INSERT
        assert leases.acquire("daily", "gone", 1, now=NOW - timedelta(hours=1))
    start = threading.Barrier(8)
    won: list[str] = []

    def race(holder: str) -> None:
        start.wait()
        if leases.acquire("daily", holder, 60, now=NOW):
            won.append(holder)

    threads = [threading.Thread(target=race, args=(f"p{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and leases.holder("daily", now=NOW) == won[0]


def test_held_renews_while_the_work_runs_and_releases_after(leases: Leases) -> None:
    with held(leases, "daily", "a", 1.0) as ours:
        assert ours
        time.sleep(1.5)  # longer than the lease: renewed meanwhile
        with held(leases, "daily", "b", 1.0) as theirs:
            assert not theirs
    assert leases.holder("daily", now=datetime.now(UTC)) is None
    assert process_holder().startswith(f"{socket.gethostname()}:{os.getpid()}:")


def test_two_processes_embedding_at_once_store_one_vector_per_paper(
        tmp_path: Path, database_url: str) -> None:
    services = [Paperboy(make_settings(tmp_path / f"home{n}", database_url, embed_batch_size=16),
                         embedder=HashingEmbedder(dim=64)) for n in range(2)]
    services[0].ingest([str(p) for p in PAPER_FIXTURES])
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def embed(service: Paperboy) -> None:
        start.wait()
        try:
            service.embed()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=embed, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert services[0].store.counts() == {"papers": 278, "embedded": 278}
    finally:
        for service in services:
            service.close()


def test_two_schedulers_ticking_at_once_run_the_chain_once_and_send_one_digest_each(
        tmp_path: Path, database_url: str,
        smtp_server: Callable[..., tuple[Inbox, int]]) -> None:
    inbox, port = smtp_server()
    clock = FixedClock(NOW)  # both replicas' clocks agree, as the leases need
    services = [Paperboy(make_settings(
        tmp_path / f"home{n}", database_url, smtp_url=f"smtp://127.0.0.1:{port}?from=d@p.test",
        sources=str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"),
        github_api_url="http://127.0.0.1:9", http_retries=0), embedder=HashingEmbedder(dim=64),
        clock=clock) for n in range(2)]
    _readers(services[0])
    leases = services[0].store.leases
    # while another replica runs the daily chain, the digests wait for today's papers
    assert leases.acquire("daily", "elsewhere", 60, now=clock())
    assert tick(services[0], holder="replica0") == [] and not inbox.received
    leases.release("daily", "elsewhere", now=clock())
    start = threading.Barrier(2)
    outcomes: dict[str, list[str]] = {}

    def run(n: int) -> None:
        start.wait()
        outcomes[f"replica{n}"] = [o.step for o in tick(services[n], holder=f"replica{n}")]

    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == [[], ["harvest", "embed", "signals", "digest"]]
        assert inbox.by_recipient() == dict.fromkeys(READERS, 1)
        for n in range(2):  # later ticks: the chain ran today, the digests went out
            assert [o.step for o in tick(services[n], holder=f"replica{n}")] == ["digest"]
        assert inbox.by_recipient() == dict.fromkeys(READERS, 1)
        with services[0].store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(tables.runs).where(
                tables.runs.c.step == "harvest")).scalar_one() == 1
    finally:
        for service in services:
            service.close()


def _readers(service: Paperboy) -> None:
    for email in READERS:  # due at once, whatever the hour: digest hour 0 UTC
        reader = service.store.readers.create(email, service.clock(), confirmed=True)
        service.store.readers.update(int(reader["id"]), digest_hour=0)
        service.follow(int(reader["id"]), "query", "kernel")


# -- two `paperboy serve` processes on one PostgreSQL ------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], list[tuple[str, int]]]]:
    """Start `paperboy serve` processes, each with a home of its own; returns their base URLs
    and process ids once they answer."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(env: dict[str, str], count: int = 2) -> list[tuple[str, int]]:
        urls = []
        for n in range(count):
            port, log = _free_port(), tmp_path / f"replica{n}.log"
            base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
            process = subprocess.Popen(
                [sys.executable, "-m", "paperboy", "--home", str(tmp_path / f"replica{n}"),
                 "serve", "--host", "127.0.0.1", "--port", str(port)],
                env={**base, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            processes.append((process, log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, (process, log) in zip(urls, processes[-count:], strict=True):
            _wait(lambda p=process, u=url: p.poll() is not None or _answers(u),  # type: ignore[misc]
                  timeout_s=30, what=f"{url} to answer")
            assert process.poll() is None, f"replica exited:\n{log.read_text()}"
        return [(url, process.pid) for url, (process, _) in zip(urls, processes[-count:],
                                                                strict=True)]

    yield start
    for process, _ in processes:
        process.terminate()
    for process, _ in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/signin", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait(done: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_serve_replicas_on_one_postgresql_share_the_daily_work(
        tmp_path: Path, database_url: str, smtp_server: Callable[..., tuple[Inbox, int]],
        replicas: Callable[[dict[str, str]], list[tuple[str, int]]]) -> None:
    inbox, smtp_port = smtp_server()
    smtp_url = f"smtp://127.0.0.1:{smtp_port}?from=digest@paperboy.test"
    seed = Paperboy(make_settings(tmp_path / "seed", database_url,
                                  embedding_model="hashing-64"))
    seed.ingest([str(LISTING), str(FIXTURES / "arxiv_api_query.xml")])
    _readers(seed)
    seed.close()

    started = replicas({
        "PAPERBOY_DATABASE_URL": database_url, "PAPERBOY_SECRET_KEY": SECRET,
        "PAPERBOY_SMTP_URL": smtp_url, "PAPERBOY_EMBEDDING_MODEL": "hashing-64",
        "PAPERBOY_SOURCES": str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"),
        "PAPERBOY_SCHEDULE_INTERVAL_S": "1", "PAPERBOY_GITHUB_API_URL": "http://127.0.0.1:9",
        "PAPERBOY_HTTP_RETRIES": "0", "PAPERBOY_SMTP_BACKOFF_S": "0.01"})
    urls = [url for url, _ in started]
    store = Store.open(database_url)
    try:
        def digests_done() -> bool:
            with store.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(tables.digests).where(
                    tables.digests.c.status == "sent")).scalar_one() == len(READERS)

        _wait(digests_done, timeout_s=40, what="every reader's digest")
        time.sleep(3)  # a few more ticks of both replicas: nothing more may happen
        assert inbox.by_recipient() == dict.fromkeys(READERS, 1)

        with store.engine.connect() as conn:
            steps = conn.execute(select(tables.runs.c.step, func.count())
                                 .group_by(tables.runs.c.step)).all()
            embedded = conn.execute(select(
                func.count(), func.count(tables.embeddings.c.paper_id.distinct()))).one()
        counts = {step: n for step, n in steps}
        assert {step: counts.get(step) for step in ("harvest", "signals", "embed")} == \
            {"harvest": 1, "signals": 1, "embed": 1}
        runs = store.runs.latest()
        assert runs["harvest"]["status"] == "ok" and runs["harvest"]["counts"]["added"] > 0
        assert runs["embed"]["status"] == "ok"
        papers = store.counts()["papers"]
        assert tuple(embedded) == (papers, papers)
        with store.engine.connect() as conn:  # the replicas took turns through the leases
            holders = dict(conn.execute(select(tables.leases.c.name, tables.leases.c.holder)).all())
        pids = {str(pid) for _, pid in started}
        assert set(holders) == {"daily", "digest"}
        assert all(holder.split(":")[1] in pids for holder in holders.values())

        # a session signed in on replica 1 is a session on replica 2
        with httpx.Client(base_url=urls[0]) as one:
            token = re.search(r'name="csrf" value="([^"]+)"', one.get("/signin").text)
            assert token is not None
            one.post("/signin", data={"email": READERS[0], "csrf": token.group(1)})
            _wait(lambda: len(inbox.received) == len(READERS) + 1, timeout_s=10,
                  what="the sign-in email")
            mail = message_from_bytes(inbox.received[-1].content, policy=policy.default)
            body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            link = re.search(r"/signin/link\?token=\S+", body)
            assert link is not None
            assert follow_emailed_link(one, link.group(0)).url.path == "/account"
            session = one.cookies.get("pb_session")
        assert session
        two = httpx.get(f"{urls[1]}/account", cookies={"pb_session": session})
        assert two.status_code == 200 and READERS[0] in two.text
        assert httpx.get(f"{urls[1]}/account").status_code == 303  # without it: sign in
    finally:
        store.close()
