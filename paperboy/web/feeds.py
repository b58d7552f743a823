"""Atom feeds (RFC 4287) for trending, each day, each category and any search.

Links are absolute, built from the base URL (`PAPERBOY_BASE_URL`), so feed readers can follow
them; the XML is built with lxml, so no text can break out of its element.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from lxml import etree

from paperboy import __version__
from paperboy.models import Filters
from paperboy.web import api
from paperboy.web.errors import documented

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
router = APIRouter(prefix="/feeds", tags=["feeds"], responses=documented())


@router.get("/trending.xml", response_class=Response)
def trending(request: Request, window: api.Window = "week",
             category: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """Trending papers as an Atom feed; each entry says why it is trending."""
    data = api.trending_data(request, window, category=category, limit=50)
    entries = [(r["paper"], r["explanation"]) for r in data["results"] if r["paper"]]
    return atom(request, f"Paperboy: trending this {window}",
                 f"/trending?{urlencode({'window': window})}", entries)


@router.get("/daily/{day}.xml", response_class=Response)
def daily(request: Request, day: api.Day) -> Response:
    """The papers first published on a day (UTC)."""
    data = api.daily_data(request, day, limit=100, cursor=None)
    return atom(request, f"Paperboy: papers of {day}", f"/daily/{day}",
                 [(paper, None) for paper in data["results"]])


@router.get("/categories/{category}.xml", response_class=Response)
def category(request: Request, category: str) -> Response:
    """The newest papers in a category."""
    if len(category) > 64:
        raise HTTPException(404, "no such category")
    data = api.listing(request, Filters(category=category), limit=50, cursor=None)
    return atom(request, f"Paperboy: new in {category}", f"/categories/{category}",
                 [(paper, None) for paper in data["results"]])


@router.get("/authors/{name}.xml", response_class=Response, responses=documented(404))
def author(request: Request, name: str) -> Response:
    """An author's newest papers (case, accents and initials aside)."""
    if len(name) > 200:
        raise HTTPException(404, "no such author")
    data = api.author_data(request, name, limit=50)
    return atom(request, f"Paperboy: papers by {data['name']}",
                 f"/authors/{quote(name)}", [(paper, None) for paper in data["results"]])


@router.get("/search.xml", response_class=Response, responses=documented(503))
def search(request: Request,
           q: Annotated[str, Query(min_length=1, max_length=api.MAX_QUERY_CHARS)],
           filters: Annotated[Filters, Depends(api.listing_filters)],
           mode: api.Mode = "hybrid") -> Response:
    """The best papers for a search; subscribe to follow a topic."""
    result = api.service_of(request).search(q, limit=50, mode=mode, filters=filters)
    store = api.service_of(request).store
    rows = store.papers_by_ids([hit.id for hit in result.hits])
    found = {c["id"]: c for c in api.cards(store, list(rows.values()), api.base_of(request))}
    query = {"q": q, "mode": mode, "from": filters.date_from, "to": filters.date_to,
             "category": filters.category, "has_code": filters.has_code}
    page = "/search?" + urlencode({k: v for k, v in query.items() if v not in (None, "")})
    return atom(request, f"Paperboy: search for {q}", page,
                 [(found[hit.id], None) for hit in result.hits if hit.id in found])


def atom(request: Request, title: str, page: str,
          entries: Sequence[tuple[dict[str, Any], str | None]]) -> Response:
    base = api.base_of(request)
    self_url = f"{base}{request.url.path}" + (f"?{request.url.query}" if request.url.query
                                              else "")
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "id", self_url)
    _text(feed, "title", title)
    newest = max((_updated(paper) for paper, _ in entries),
                 default=datetime(2000, 1, 1, tzinfo=UTC))
    _text(feed, "updated", newest.isoformat())
    _link(feed, self_url, "self", "application/atom+xml")
    _link(feed, f"{base}{page}", "alternate", "text/html")
    generator = _text(feed, "generator", "Paperboy")
    generator.set("version", __version__)
    for paper, why in entries:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", paper["url"])
        _text(entry, "title", paper["title"])
        _text(entry, "updated", _updated(paper).isoformat())
        if paper["published"]:
            _text(entry, "published", paper["published"])
        _link(entry, paper["url"], "alternate", "text/html")
        if paper["links"].get("abstract"):
            _link(entry, paper["links"]["abstract"], "related", "text/html")
        if paper["links"].get("pdf"):
            _link(entry, paper["links"]["pdf"], "enclosure", "application/pdf")
        for name in paper["authors"] or ["Unknown"]:
            _text(etree.SubElement(entry, f"{{{ATOM}}}author"), "name", name)
        for term in paper["categories"]:
            etree.SubElement(entry, f"{{{ATOM}}}category").set("term", _clean(term))
        summary = f"{why}.\n\n{paper['abstract']}" if why else paper["abstract"]
        _text(entry, "summary", summary).set("type", "text")
    body = etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return Response(body, media_type=MEDIA_TYPE)


def _text(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _clean(text)
    return element


def _link(parent: etree._Element, href: str, rel: str, media_type: str) -> None:
    link = etree.SubElement(parent, f"{{{ATOM}}}link")
    link.set("href", _clean(href))
    link.set("rel", rel)
    link.set("type", media_type)


def _clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry (stray control characters)."""
    return _NOT_XML.sub("", text)


def _updated(paper: dict[str, Any]) -> datetime:
    stamp = paper.get("updated") or paper.get("published")
    return datetime.fromisoformat(stamp) if stamp else datetime(2000, 1, 1, tzinfo=UTC)
