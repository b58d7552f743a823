"""A broken disk: index files damaged before opening or while serving, and errors nobody
expected (a panic in native code), met by a real server and stdlib HTTP clients."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from conftest import LISTING, NOW, make_settings
from typer.testing import CliRunner

from paperboy.cli import app as cli
from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy
from paperboy.web.app import create_app

QUERY = "/api/search?q=kernel&limit=100&mode=lexical"


def _service(home: Path) -> Paperboy:
    return Paperboy(make_settings(home), embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    service = _service(tmp_path / "home")
    service.ingest([str(LISTING)])
    service.embed()
    service.close()
    return tmp_path / "home"


def _damage(path: Path, *, at: float = 1 / 3) -> None:
    """16 bytes overwritten in place, as a failing disk or a stray write leaves them."""
    with open(path, "r+b") as file:
        file.seek(int(path.stat().st_size * at))
        file.write(b"\xff" * 16)


def _segment_file(home: Path, suffix: str) -> Path:
    (found,) = (home / "index" / "lexical" / "tantivy").glob(f"*{suffix}")
    return found


def _ids(result: Any) -> list[str]:
    return [h.id for h in result.hits]


@contextmanager
def _serving(service: Paperboy) -> Iterator[http.client.HTTPConnection]:
    """The app on a real uvicorn server on loopback, and one keep-alive connection to it."""
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()
        server.should_exit = True
        thread.join(timeout=10)


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, Any, str]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.headers, response.read().decode()


def test_damage_found_when_opening_is_rebuilt_from_the_store_and_reported(home: Path) -> None:
    service = _service(home)
    words = _ids(service.search("kernel", limit=50, mode="lexical"))
    meaning = _ids(service.search("kernel", limit=50, mode="semantic"))
    service.close()
    _damage(_segment_file(home, ".pos"))  # a search would read it without noticing
    _damage(home / "index" / "vectors" / "vectors.usearch")

    reopened = _service(home)
    assert _ids(reopened.search("kernel", limit=50, mode="lexical")) == words
    assert _ids(reopened.search("kernel", limit=50, mode="semantic")) == meaning
    report = reopened.index_health.report()
    assert report["word"]["state"] == "rebuilt"
    assert report["word"]["reason"].endswith(".pos does not match its checksum")
    assert report["vector"] == {"state": "rebuilt", "since": NOW.isoformat(),
                                 "reason": "vectors.usearch does not match its checksum"}
    assert reopened.index_health.status == "ok"  # rebuilt and sound again
    reopened.close()

    _damage(_segment_file(home, ".term"))
    answer = CliRunner().invoke(cli, ["--home", str(home), "search", "kernel",
                                      "--mode", "lexical", "--json"])
    said = " ".join(answer.output.split())  # as wrapped to the terminal
    assert answer.exit_code == 0, answer.output
    assert "the word index was rebuilt from the store" in said
    assert ".term does not match its checksum" in said and "Traceback" not in said


def test_damage_found_while_serving_answers_503_rebuilds_and_the_connection_serves_on(
        home: Path) -> None:
    service = _service(home)
    before = _ids(service.search("kernel", limit=100, mode="lexical"))
    service.close()
    service = _service(home)
    with _serving(service) as connection:  # opened, its files checked and sound
        _damage(_segment_file(home, ".store"))  # then a disk fails under it

        status, headers, body = _get(connection, QUERY)
        socket = connection.sock  # kept alive: every later request goes over this one
        assert socket is not None and headers["Connection"] != "close"
        assert status == 503 and headers["Content-Type"] == "application/json"
        error = json.loads(body)["error"]
        assert error["code"] == "unavailable"
        assert "word index is damaged" in error["message"]
        assert "being rebuilt from the store" in error["message"]

        deadline, health = time.monotonic() + 60, {}
        while time.monotonic() < deadline:  # on the same connection: it still serves
            status, _, body = _get(connection, "/healthz")
            health = json.loads(body)
            assert (status == 200) == (health["status"] == "ok")
            if health["status"] == "ok":
                break
            assert health["status"] == "rebuilding", health
            assert health["indexes"]["word"]["state"] == "rebuilding"
            time.sleep(0.1)
        assert health["indexes"]["word"]["state"] == "rebuilt", health
        assert "word index is damaged" in health["indexes"]["word"]["reason"]

        status, _, body = _get(connection, QUERY)
        assert status == 200 and [hit["id"] for hit in json.loads(body)["results"]] == before
        assert connection.sock is socket
    service.close()


class PanicException(BaseException):  # noqa: N818 - as pyo3 names it
    """What pyo3 raises for a panic in native code: a BaseException, not an Exception."""


class Panicking(Paperboy):
    """A service whose searches panic inside an extension."""

    def search(self, *args: Any, **kwargs: Any) -> Any:
        raise PanicException("index out of bounds: the len is 3924 but the index is 1844")


def test_an_unexpected_error_answers_the_error_shape_logs_one_line_and_keeps_the_connection(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = Panicking(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64),
                        clock=FixedClock(NOW))
    service.ingest([str(LISTING)])
    with caplog.at_level(logging.INFO), _serving(service) as connection:
        status, headers, body = _get(connection, "/api/search?q=kernel")
        socket = connection.sock  # kept alive: every later request goes over this one
        assert socket is not None and headers["Connection"] != "close"
        assert status == 500 and headers["Content-Type"] == "application/json"
        request_id = headers["X-Request-ID"]
        assert json.loads(body)["error"] == {
            "code": "internal_error",
            "message": f"something went wrong on our side; it has been logged as request "
                       f"{request_id}"}
        status, headers, body = _get(connection, "/search?q=kernel")
        assert status == 500 and headers["Content-Type"].startswith("text/html")
        assert headers["X-Request-ID"] in body and "Content-Security-Policy" in headers
        assert _get(connection, "/healthz")[0] == 200 and connection.sock is socket
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 2, [r.getMessage() for r in failures]
    assert request_id in failures[0].getMessage()
    assert "PanicException: index out of bounds" in failures[0].getMessage()
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in failures)
    service.close()
