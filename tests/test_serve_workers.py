"""`paperboy serve --workers N`: N processes answer on one port, each with its own indexes and
model; the parent stops them all on Ctrl-C (SIGINT) or SIGTERM, and stops the others when one
dies, saying so in its exit status."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from browser import free_port
from conftest import fixture_home

MODEL = "hashing-64"
ENV = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": MODEL}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fixture_home(tmp_path_factory.mktemp("workers") / "home", MODEL)


def _start(home: Path, log: Path, workers: int, *,
           answering: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """`serve --workers N`, once its N workers are forked (and, if `answering`, it answers)."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "paperboy", "--home", str(home), "serve", "--no-schedule",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=ENV, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while len(psutil.Process(process.pid).children()) < workers or (
            answering and not _answers(url)):
        assert process.poll() is None, f"paperboy serve exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{workers} workers did not start:\n{log.read_text()}"
        time.sleep(0.2)
    return process, url


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_answer_alike_and_stop_together_on_ctrl_c(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process, url = _start(home, log, workers=2)
    workers = psutil.Process(process.pid).children()
    try:
        assert len(workers) == 2
        # a fresh connection each time: the kernel hands them to either worker
        answers = {httpx.get(f"{url}/api/search", params={"q": "kernel attention"},
                             headers={"Connection": "close"}, timeout=30).text
                   for _ in range(30)}
        assert len(answers) == 1, "the workers answered the same search differently"
        page = httpx.get(f"{url}/search", params={"q": "kernel"}, timeout=30)
        assert page.status_code == 200 and "kernel" in page.text.lower()
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends the parent
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    for worker in workers:
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    text = log.read_text()
    assert text.count("Paperboy is serving") == 1 and "in 2 processes" in text
    assert "Traceback" not in text


def test_connections_opened_at_once_are_spread_over_the_workers(home: Path,
                                                                tmp_path: Path) -> None:
    """A client's pool (a proxy, a load generator) opens its keep-alive connections in one
    burst; each worker gets a share of them, not whichever worker woke first all of them."""
    process, url = _start(home, tmp_path / "serve.log", workers=2)
    port = int(url.rsplit(":", 1)[1])
    connections: list[socket.socket] = []
    try:
        connections = [socket.create_connection(("127.0.0.1", port), timeout=30)
                       for _ in range(40)]
        for connection in connections:  # answered: accepted by a worker, kept alive
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for connection in connections:
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        held = [sum(1 for c in worker.net_connections(kind="tcp")
                    if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
                for worker in psutil.Process(process.pid).children()]
        assert sum(held) == 40
        assert min(held) >= 8, f"connections per worker: {held}"
    finally:
        for connection in connections:
            connection.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0


def test_a_worker_that_dies_stops_the_others(home: Path, tmp_path: Path) -> None:
    # the first worker dies as soon as the second is forked, while that one is still starting
    log = tmp_path / "serve.log"
    process, url = _start(home, log, workers=2, answering=False)
    try:
        first, second = sorted(psutil.Process(process.pid).children(), key=lambda p: p.pid)
        first.kill()
        assert process.wait(timeout=60) == 128 + signal.SIGKILL
        second.wait(timeout=30)
        assert not _answers(url)
    finally:
        if process.poll() is None:
            process.kill()
    assert "a server process exited with status 137; stopping the others" in \
        " ".join(log.read_text().split())


def test_a_setting_the_app_cannot_use_stops_the_start_once(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.run(
            [sys.executable, "-m", "paperboy", "--home", str(home), "serve", "--no-schedule",
             "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "3"],
            env={**ENV, "PAPERBOY_TRUSTED_PROXIES": "not-a-network"}, stdout=output,
            stderr=subprocess.STDOUT, timeout=120, check=False)
    text = log.read_text()
    assert process.returncode == 2, text
    assert text.count("PAPERBOY_TRUSTED_PROXIES") == 1 and "Traceback" not in text


def test_workers_stop_when_the_parent_is_killed_outright(home: Path, tmp_path: Path) -> None:
    # kill -9 on the parent runs none of its code: the kernel tells each worker (Linux)
    log = tmp_path / "serve.log"
    process, url = _start(home, log, workers=2)
    workers = psutil.Process(process.pid).children()
    process.kill()
    process.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=60)
    for worker in alive:
        worker.kill()
    assert not alive, "workers outlived their parent"
    assert not _answers(url)
