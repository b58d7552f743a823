"""Paperboy as a Model Context Protocol server, for agents: `paperboy mcp` over stdio, and
`paperboy serve` at `/mcp` over streamable HTTP (stateless, JSON answers), with the official
`mcp` SDK's `MCPServer`. Read-only: tools to search (with each result's reasons), read a paper
(metadata, abstract, links, BibTeX), find similar papers, and list trending and daily papers;
each paper is also a resource, `paperboy://papers/{id}`, as Markdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from starlette.responses import JSONResponse

from paperboy.index.hybrid import PaperNotFound
from paperboy.models import Filters
from paperboy.service import Paperboy
from paperboy.web.markdown import paper_markdown
from paperboy.web.views import bibtex, cards

__all__ = ["McpEndpoint", "build_mcp"]

MAX_LIMIT = 50
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                             open_world_hint=False)
_KEPT = ("id", "title", "authors", "published", "categories", "arxiv_id", "doi", "venue",
         "citations", "upvotes", "summary", "url")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ToolError(f"limit must be 1 to {MAX_LIMIT}, got {limit}")
    return limit


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ToolError(f"{name} must be a day, YYYY-MM-DD: got {value!r}") from None


def build_mcp(service: Paperboy, base_url: str) -> MCPServer:
    """The server, its tools and resources answered by `service`; links point at `base_url`."""
    server = MCPServer(
        "paperboy", title="Paperboy", version=_version(), log_level="WARNING",
        instructions="Search, read and follow research papers (arXiv first) stored by this "
                     "Paperboy: search by words and meaning with reasons for each result, a "
                     "paper's metadata, abstract and BibTeX, similar papers, and what is "
                     "trending. Every paper is also the resource paperboy://papers/{id}.")

    def shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{key: card[key] for key in _KEPT} | {"pdf": card["links"].get("pdf"),
                                                     "code": [c["url"] for c in card["code"]]}
                for card in cards(service.store, rows, base_url)]

    def card_of(paper_id: str) -> dict[str, Any]:
        row = service.paper(paper_id)
        if row is None:
            raise ToolError(f"no paper with id {paper_id!r} (an arXiv id, DOI or Paperboy id)")
        return cards(service.store, [row], base_url)[0]

    @server.tool(annotations=_READ_ONLY)
    def search(query: str, mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
               category: str | None = None, date_from: str | None = None,
               date_to: str | None = None, has_code: bool | None = None,
               limit: int = 10) -> dict[str, Any]:
        """Search the papers by words and meaning (mode: hybrid, lexical for words only,
        semantic for meaning only). Query syntax: "a phrase", -word, author:name, title:word,
        cat:cs.LG, year:2025 or year:2023-2025. Filters: category (cs.LG), date_from and
        date_to (YYYY-MM-DD, first published), has_code. Each result says why it matched
        (matched terms, its ranks by words and by meaning)."""
        if not query.strip() or len(query) > 500:
            raise ToolError("query must be 1 to 500 characters")
        filters = Filters(date_from=_day(date_from, "date_from"),
                          date_to=_day(date_to, "date_to"), category=category or None,
                          has_code=has_code)
        result = service.search(query, limit=_limit(limit), mode=mode, filters=filters)
        return {"query": result.query, "mode": result.mode, "total": result.total,
                "notices": result.notices,
                "results": [hit.as_dict() | {"url": f"{base_url}/papers/{hit.id}"}
                            for hit in result.hits]}

    @server.tool(annotations=_READ_ONLY)
    def paper(id: str) -> dict[str, Any]:  # noqa: A002 - the name agents see
        """One paper by arXiv id, DOI or Paperboy id: its metadata, abstract, links (arXiv,
        PDF, code with GitHub stars, project page), what Hugging Face and Semantic Scholar said
        of it (summary, keywords, citations, venue), and its BibTeX."""
        card = card_of(id)
        return card | {"bibtex": bibtex(card)}

    @server.tool(annotations=_READ_ONLY)
    def similar(id: str, limit: int = 10) -> dict[str, Any]:  # noqa: A002
        """The papers closest in meaning to one paper (by arXiv id, DOI or Paperboy id)."""
        card = card_of(id)
        try:
            result = service.similar(card["id"], limit=_limit(limit))
        except PaperNotFound:
            raise ToolError(f"paper {id!r} has no vector yet: run `paperboy embed`") from None
        return {"paper": card["id"], "notices": result.notices,
                "results": [hit.as_dict() | {"url": f"{base_url}/papers/{hit.id}"}
                            for hit in result.hits]}

    @server.tool(annotations=_READ_ONLY)
    def trending(window: Literal["day", "week", "month"] = "week", category: str | None = None,
                 limit: int = 10) -> dict[str, Any]:
        """The papers gaining upvotes and GitHub stars fastest in a window, each with the
        numbers behind its place (Paperboy's trending ranking)."""
        entries = service.trending(window=window, category=category or None,
                                   limit=_limit(limit), stale_ok=True)
        papers = {p["id"]: p for p in shown([e.paper for e in entries if e.paper])}
        return {"window": window, "results": [entry.as_dict() | {"paper": papers.get(entry.id)}
                                              for entry in entries]}

    @server.tool(annotations=_READ_ONLY)
    def daily(date: str | None = None, limit: int = 20) -> dict[str, Any]:  # noqa: A002
        """The papers first published on a day (YYYY-MM-DD, UTC; default the newest day
        with papers), newest first."""
        day = _day(date, "date") or (service.store.newest_published()
                                     or datetime.now(UTC)).date()
        rows = service.store.listing(Filters(date_from=day, date_to=day), limit=_limit(limit))
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        before, after = service.store.days_around(start, start + timedelta(days=1))
        return {"date": day.isoformat(), "results": shown(rows),
                "previous": before.date().isoformat() if before else None,
                "next": after.date().isoformat() if after else None}

    @server.resource("paperboy://papers/{paper_id}", mime_type="text/markdown",
                     description="A paper as Markdown: title, authors, dates, links, abstract.")
    def paper_resource(paper_id: str) -> str:
        row = service.paper(paper_id)
        if row is None:
            raise ResourceNotFoundError(f"no paper with id {paper_id!r}")
        return paper_markdown(cards(service.store, [row], base_url)[0])

    return server


class McpEndpoint:
    """The `/mcp` route of the web app: streamable HTTP, stateless, JSON answers. Each start
    of the app (`running`) builds a fresh server, since the SDK's session manager runs once.
    Requests must name this server's host, or a local one, so that a web page elsewhere
    cannot reach it through DNS rebinding."""

    def __init__(self, service: Paperboy, base_url: str) -> None:
        self.service, self.base_url = service, base_url
        self._app: Any = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = build_mcp(self.service, self.base_url)
        host = urlsplit(self.base_url).netloc
        local = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
        security = TransportSecuritySettings(
            allowed_hosts=[host, *local] if host else local,
            allowed_origins=[self.base_url, "http://127.0.0.1:*", "http://localhost:*"])
        app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                         json_response=True, transport_security=security)
        async with server.session_manager.run():
            self._app = app
            try:
                yield
            finally:
                self._app = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            response = JSONResponse({"error": {"code": "unavailable", "message":
                                               "the MCP server is starting or stopping"}},
                                    status_code=503)
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _version() -> str:
    from paperboy import __version__

    return __version__
