"""The 16 kB body limit holds for chunked bodies too (no Content-Length to check), against a real
`paperboy serve`, over a raw socket: the server answers 413 after reading little more than the
limit, and its memory does not grow with what the client keeps sending."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psutil
from browser import free_port, serving
from conftest import LISTING, make_settings

from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy

CHUNK = b"email=" + b"a" * 65_530  # one 64 kB chunk of a form body


def _chunked_post(port: int, path: str, *, most: int) -> tuple[bytes, int]:
    """POST chunks until the server answers or `most` bytes went; (answer, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        conn.setblocking(False)
        answer = b""
        deadline = time.monotonic() + 30
        while sent < most and time.monotonic() < deadline:
            try:
                answer += conn.recv(65_536)
                if answer:
                    break
            except BlockingIOError:
                pass
            try:
                conn.sendall(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n")
                sent += len(CHUNK)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
        conn.setblocking(True)
        try:
            while b"\r\n\r\n" not in answer:
                piece = conn.recv(65_536)
                if not piece:
                    break
                answer += piece
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    service = Paperboy(make_settings(home), embedder=HashingEmbedder(dim=64))
    service.ingest([str(LISTING)])
    service.close()
    port = free_port()
    env = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64"}
    with serving(home, port, env):
        server = next(p for p in psutil.Process().children(recursive=True)
                      if "serve" in " ".join(p.cmdline()))
        before = server.memory_info().rss
        answer, sent = _chunked_post(port, "/subscribe", most=50_000_000)
        grown = server.memory_info().rss - before
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 50_000_000  # answered long before the client was done
    assert grown < 20 * 2**20, f"the server grew by {grown / 2**20:.0f} MiB"
