"""A real local HTTP server for tests of Paperboy's fetchers (import it; it is not a conftest).

Tests talk to it over a real socket on 127.0.0.1, so they exercise the same code path as the
network: headers, query strings, keep-alive, truncated bodies and timeouts all behave for real.

    with LocalServer() as srv:
        srv.route("/api/query", [Reply(503, b"busy", headers={"Retry-After": "1"}),
                                 Reply.file(FIXTURES / "arxiv_api_query.xml")])
        client.get(srv.url("/api/query"), params={"search_query": "cat:cs.LG"})
        assert len(srv.requests) == 2

Each route holds a script of replies served in order; the last one repeats. Every request,
routed or not, is recorded in `srv.requests`. Unknown paths get a 404.
"""

from __future__ import annotations

import mimetypes
import socket
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

# Statuses that must not carry a body (h11 on the client side would reject one).
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted response.

    `delay_s` waits before anything is sent (for read-timeout tests). `drop` sends the headers
    with the full Content-Length but only the first half of the body, then closes the socket;
    with `reset` the close is an abortive TCP RST instead of an orderly FIN.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False
    reset: bool = False

    @classmethod
    def file(
        cls,
        path: str | Path,
        content_type: str | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Serve a fixture file's bytes; the content type is guessed from its name if not given."""
        path = Path(path)
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(
            status,
            path.read_bytes(),
            headers={"Content-Type": content_type or guessed, **(headers or {})},
        )

    @classmethod
    def dropped(cls, body: bytes, *, status: int = 200, reset: bool = False) -> Reply:
        """A reply whose connection dies half-way through the body."""
        return cls(status, body, drop=True, reset=reset)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the server saw: `query` maps each parameter to all its values, in order."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message  # case-insensitive lookup: headers["user-agent"]
    body: bytes

    def param(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None when absent."""
        values = self.query.get(name)
        return values[0] if values else None


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port, run in a daemon thread."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply]] = {}
        self._served: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def route(self, path: str, replies: Reply | Sequence[Reply]) -> None:
        """Script the replies for `path` (any method; the query string is ignored for routing)."""
        script = [replies] if isinstance(replies, Reply) else list(replies)
        if not script:
            raise ValueError(f"route {path!r} needs at least one reply")
        with self._lock:
            self._routes[path] = script
            self._served[path] = 0

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                # shutdown() waits up to one poll interval; the default 0.5 s adds up over a suite.
                kwargs={"poll_interval": 0.02},
                name=f"LocalServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        # Wake handlers sleeping through a `delay_s` so nothing lingers after the test.
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            script = self._routes.get(request.path)
            if script is None:
                return Reply(404, f"no route for {request.path}".encode(),
                             headers={"Content-Type": "text/plain"})
            index = self._served[request.path]
            self._served[request.path] = index + 1
            return script[min(index, len(script) - 1)]


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like real APIs, so pooling is exercised

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=self.headers,
                body=body,
            )
            reply = server._next_reply(request)
            if reply.delay_s and server._stopping.wait(reply.delay_s):
                self.close_connection = True
                return
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (e.g. its read timeout fired); that is the test's point.
                self.close_connection = True

        def _send(self, reply: Reply) -> None:
            self.send_response_only(reply.status)
            names = {name.lower() for name in reply.headers}
            # Scripted headers win, so a test can pin Date for Retry-After arithmetic.
            if "date" not in names:
                self.send_header("Date", self.date_time_string())
            if "server" not in names:
                self.send_header("Server", "paperboy-test")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            has_body = reply.status not in _NO_BODY_STATUSES and self.command != "HEAD"
            if reply.status not in _NO_BODY_STATUSES and "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            if reply.drop:
                self.send_header("Connection", "close")
            self.end_headers()
            if not has_body:
                return
            if not reply.drop:
                self.wfile.write(reply.body)
                return
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            if reply.reset:
                # SO_LINGER with a zero timeout turns close() into an immediate RST.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: object) -> None:
            # Tests assert on `requests`; per-request stderr lines would only be noise.
            pass

    return Handler
