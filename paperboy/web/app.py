"""The web app: pages, the JSON API and feeds over one `Paperboy` service.

Every response carries a Content-Security-Policy without inline scripts (htmx and KaTeX are
served from `static/`, nothing from a CDN), `X-Content-Type-Options` and frame protection, and
`Strict-Transport-Security` when the base URL is https.
Requests with overlong URLs or bodies are refused before any work. Errors are JSON under
`/api/` (`{"error": {"code", "message"}}`) and a page everywhere else, never a stack trace;
an unexpected one is logged in one line with the request id the response carries.

Each request's own work (a sync endpoint, a search, a page render) runs in one pool of threads
no larger than this process' share of the cores (`request_threads`), first come first served:
the work is CPU-bound, so more threads would only take turns at the interpreter, each request
slower and the slowest waiting longest. On 2 cores, 50 clients of bench/serve.py's mix got
more requests through this way than with anyio's 40 threads, each kind of request waiting
about as long as the others.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboy import __version__
from paperboy.index.lexical import LexicalIndexDamaged
from paperboy.readers.accounts import Accounts, Links, secret_key
from paperboy.readers.mail import smtp_mailer
from paperboy.readers.private_feeds import FeedKeys
from paperboy.service import Paperboy
from paperboy.web import account, api, apidocs, feeds, foryou, hf, library, pages
from paperboy.web.clients import trusted_networks
from paperboy.web.errors import CODES
from paperboy.web.mcp_server import McpEndpoint
from paperboy.web.render import render
from paperboy.web.session import Sessions
from paperboy.web.views import BadCursor

MAX_URL_CHARS = 4096
MAX_BODY_BYTES = 16_384
# the one form that uploads a file: a library export (plus the multipart envelope)
BODY_LIMITS = {"/account/library/import": library.MAX_UPLOAD_BYTES + 16_384}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"  # a year; sent only when the base URL is https
log = logging.getLogger("paperboy.web")


def request_threads(processes: int = 1) -> int:
    """How many requests one of `processes` serving processes works on at once: its share
    of the cores, at least one (see the module docstring)."""
    return max(1, (os.cpu_count() or 1) // max(1, processes))


def create_app(service: Paperboy, *, base_url: str = "", threads: int | None = None) -> FastAPI:
    """The ASGI app. `base_url` (else the `base_url` setting) makes feed links absolute;
    `threads`, how many requests are worked on at once (default: `request_threads()`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.warm_up()  # open store and indexes before the first request, not during it
        # the pool sync endpoints and `api.in_worker` run in (per event loop)
        anyio.to_thread.current_default_thread_limiter().total_tokens = \
            threads or request_threads()
        async with AsyncExitStack() as stack:
            if app.state.mcp is not None:
                await stack.enter_async_context(app.state.mcp.running())
            yield
        app.state.accounts.outbox.wait_idle(10)  # the account emails asked for go out first

    app = FastAPI(title="Paperboy", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="A self-hosted research-paper radar: search, "
                  "trending and daily listings of research papers.")
    app.state.service = service
    app.state.trusted_proxies = trusted_networks(service.settings.trusted_proxies)
    app.state.base_url = (base_url or service.settings.base_url or "http://localhost:8000"
                          ).rstrip("/")
    secret = secret_key(service.settings)
    app.state.feed_keys = FeedKeys(secret)
    app.state.sessions = Sessions(secret, secure=app.state.base_url.startswith("https://"),
                                  store=service.store.sessions, clock=service.clock)
    mailer, sender = smtp_mailer(service.settings)
    app.state.accounts = Accounts(service.store, Links(secret, app.state.base_url), mailer,
                                  sender=sender, clock=service.clock)

    app.add_middleware(Guard, sessions=app.state.sessions)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: "
                             f"{e['msg']}" for e in exc.errors())
        return _error(request, 422, problems)

    @app.exception_handler(BadCursor)
    async def bad_cursor(request: Request, exc: BadCursor) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(LexicalIndexDamaged)
    async def damaged(request: Request, exc: LexicalIndexDamaged) -> Response:
        return _error(request, 503, f"{exc}; it is being rebuilt from the store, so try again "
                      "in a minute")

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"),
              name="static")
    app.include_router(apidocs.router)
    app.include_router(api.router)
    app.include_router(hf.router)
    app.include_router(feeds.router)
    app.include_router(account.router)
    app.include_router(foryou.router)
    app.include_router(library.router)
    app.state.mcp = None
    if service.settings.mcp:  # agents, over streamable HTTP (web/mcp_server.py)
        app.state.mcp = McpEndpoint(service, app.state.base_url)
        app.router.routes.append(Route("/mcp", endpoint=app.state.mcp))
    app.include_router(pages.router)
    return app


class Guard:
    """Plain ASGI middleware (no per-request task or stream): refuses overlong URLs and bodies
    before any work, and adds the security headers, `X-Request-ID`, `Server-Timing` (the
    service's search time, so the HTTP layer's share is measurable) and a new CSRF cookie to
    every response. Any error no handler answered, a panic in native code included, becomes
    the error page or JSON (so the connection stays usable) and one log line naming the
    request id; the traceback is logged at debug level."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        url_chars = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        limit = BODY_LIMITS.get(scope.get("path", ""), MAX_BODY_BYTES)
        refusal = None
        if url_chars > MAX_URL_CHARS:
            refusal = 414, f"the URL is longer than {MAX_URL_CHARS} characters"
        elif not length.isdigit() or int(length) > limit:
            refusal = 413, f"the request body is over {limit} bytes"
        state = scope.setdefault("state", {})
        request_id = _request_id(dict(scope["headers"]).get(b"x-request-id", b""))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if self.sessions.secure:  # served as https: browsers are to keep to it
                    headers["Strict-Transport-Security"] = HSTS
                if (search_ms := state.get("search_ms")) is not None:
                    headers["Server-Timing"] = f"search;dur={search_ms:.2f}"
                if token := state.get("csrf_new"):
                    headers.append("Set-Cookie", self.sessions.csrf_cookie(token))
            await send(message)

        chunked = b"chunked" in dict(scope["headers"]).get(b"transfer-encoding", b"").lower()
        if refusal is None and chunked:  # no Content-Length to check: read at most the limit
            receive, over = await _read_at_most(receive, limit)
            if over:
                refusal = 413, f"the request body is over {limit} bytes"
        if refusal is not None:
            response = _error(Request(scope), *refusal)
            await response(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except BaseException as exc:  # a panic in native code is a BaseException too
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit) or \
                    exc.__class__.__name__ == "CancelledError":
                raise
            log.error("request %s: %s %s failed: %s: %s", request_id, scope.get("method"),
                      scope.get("path"), type(exc).__name__, exc)
            log.debug("request %s", request_id, exc_info=True)
            if started:  # the response is on its way: all that is left is to end it
                return
            response = _error(Request(scope), 500, "something went wrong on our side; it has "
                              f"been logged as request {request_id}")
            await response(scope, receive, send_with_headers)


def _request_id(given: bytes) -> str:
    """The proxy's request id when it looks like one (so log lines join up), else a new one."""
    if re.fullmatch(rb"[A-Za-z0-9._:-]{8,64}", given):
        return given.decode()
    return uuid.uuid4().hex[:16]


async def _read_at_most(receive: Receive, limit: int) -> tuple[Receive, bool]:
    """The body read up to `limit` bytes (stopping at the first message past it), as a new
    `receive` that replays it; and whether the body was longer. A chunked body has no
    Content-Length, so this is the only way to refuse a large one without reading it all."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > limit:
            return receive, True
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay, False


def _error(request: Request, status: int, message: str) -> Response:
    code = CODES.get(status, "error")
    if request.url.path.startswith(("/api/", "/healthz", "/feeds/", "/hf/", "/mcp")):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message,
                                          "title": f"{status}: {code.replace('_', ' ')}"},
                  status_code=status)
