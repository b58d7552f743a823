"""`/for-you`: the signed-in reader's next digest as a page, as JSON at `/api/for-you` and as an
Atom feed at a secret address (`/feeds/private/{token}.xml`, readers/private_feeds.py): new
papers on what they follow, recommendations from their library and trending papers, each with
its reason, their mutes applied. Saving, upvoting or dismissing a paper there comes back to the
page, and the next visit recomposes it (the recommendations learn from the change).
Each collection has its own private feed of the recommendations learnt from it (`?collection=`).
`/account/feeds.opml` lists every feed the reader follows, the private ones included."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from lxml import etree

from paperboy.digest.compose import Digest
from paperboy.readers.private_feeds import FeedKeys
from paperboy.store.library import CollectionError
from paperboy.web.errors import documented
from paperboy.web.feeds import atom
from paperboy.web.render import render
from paperboy.web.routes import OneTrip
from paperboy.web.session import current_reader, signed_in
from paperboy.web.views import cards

router = APIRouter(route_class=OneTrip)
Csrf = Annotated[str, Form(max_length=100)]


def _sections(request: Request, digest: Digest) -> list[dict[str, Any]]:
    """The digest's parts as cards, each with its reason (and the collection a
    recommendation comes from); every section is there, empty ones too."""
    store, base = request.app.state.service.store, request.app.state.base_url
    rows = store.papers_by_ids([i.paper["id"] for i in digest.items])
    out: list[dict[str, Any]] = []
    for part in digest.parts(empty=True):
        items = [i for i in part.items if i.paper["id"] in rows]
        shown = cards(store, [rows[i.paper["id"]] for i in items], base)
        before = sum(section["name"] == part.section for section in out)
        out.append({"name": part.section, "heading": part.heading,
                    "id": f"{part.section}-{before + 1}" if before else part.section,
                    "collection": part.collection,
                    "papers": [card | {"why": item.why, "collection": item.collection}
                               for card, item in zip(shown, items, strict=True)]})
    return out


@router.get("/for-you", include_in_schema=False)
def for_you_page(request: Request) -> Response:
    reader = current_reader(request)
    if reader is None:
        return RedirectResponse("/signin", status_code=303)
    digest = request.app.state.service.for_you(reader["id"])
    return render(request, "for_you.html", {
        "title": "For you – Paperboy", "sections": _sections(request, digest),
        "since": digest.since, "hidden": digest.hidden})


@router.get("/api/for-you", tags=["readers"], responses=documented(401))
def for_you_api(request: Request) -> dict[str, Any]:
    """The signed-in reader's (by the session cookie) next digest as it stands now: sections
    `updates` (of saved papers), `followed`, `recommended` and `trending`, of paper cards each
    with `why` (and, for a recommendation, the `collection` it was learnt from); `hidden`
    counts the papers their mutes left out."""
    reader = signed_in(request)
    digest = request.app.state.service.for_you(reader["id"])
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in _sections(request, digest):
        sections.setdefault(section["name"], []).extend(section["papers"])
    return {"since": digest.since.isoformat(), "hidden": digest.hidden, "sections": sections}


@router.get("/feeds/private/{token}.xml", include_in_schema=False)
def private_feed(request: Request, token: str,
                 collection: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """The reader's digest as it stands, or (`collection`) the recommendations learnt from
    one collection of their library."""
    store = request.app.state.service.store
    reader = request.app.state.feed_keys.reader(store, token[:200])
    if reader is None:
        raise HTTPException(404, "no feed at this address (it may have been replaced by a new "
                                 "one on the account page)")
    if collection is not None:
        try:
            collection = store.library.existing(reader["id"], collection)
        except CollectionError as error:
            raise HTTPException(404, str(error)) from None
    sections = _sections(request, request.app.state.service.for_you(reader["id"]))
    if collection is None:
        return atom(request, "Paperboy: your digest, as it stands", "/for-you", [
            (paper, f"{section['heading']}: {paper['why']}")
            for section in sections for paper in section["papers"]])
    return atom(request, f"Paperboy: recommended for “{collection}”", "/for-you", [
        (paper, paper["why"]) for section in sections if section["name"] == "recommended"
        for paper in section["papers"] if paper["collection"] == collection])


@router.post("/account/feeds/renew", include_in_schema=False)
def renew_private_feed(request: Request, csrf: Csrf = "") -> Response:
    """A new secret address for the private feeds; the old one stops working."""
    request.app.state.sessions.check_csrf(request, {"csrf": csrf})
    reader = signed_in(request)
    FeedKeys.renew(request.app.state.service.store, reader)
    return RedirectResponse("/account#feeds", status_code=303)


def private_feed_url(request: Request, reader: dict[str, Any],
                     collection: str | None = None) -> str:
    """The secret address of the reader's digest feed, or of one collection's."""
    return f"{request.app.state.base_url}/feeds/private/" \
           f"{request.app.state.feed_keys.token(reader)}.xml" + \
           (f"?{urlencode({'collection': collection})}" if collection else "")


@router.get("/account/feeds.opml", include_in_schema=False)
def feeds_opml(request: Request) -> Response:
    """OPML 2.0 of every feed the reader follows: each followed search, category and author,
    and their private feed."""
    reader = current_reader(request)
    if reader is None:
        return RedirectResponse("/signin", status_code=303)
    base = request.app.state.base_url
    outlines = [("Paperboy: your digest", private_feed_url(request, reader))] + [
        (f"Paperboy: recommended for “{name}”", private_feed_url(request, reader, name))
        for name, count in request.app.state.service.store.library.collections(
            reader["id"]).items() if count]
    for follow in request.app.state.service.store.readers.follows([reader["id"]]):
        value = follow["value"]
        if follow["kind"] == "query":
            query = {"q": value, "category": (follow["filters"] or {}).get("category"),
                     "has_code": "true" if (follow["filters"] or {}).get("has_code") else None}
            url = f"{base}/feeds/search.xml?" + urlencode({k: v for k, v in query.items() if v})
            outlines.append((f"Paperboy: search for {value}", url))
        elif follow["kind"] == "category":
            outlines.append((f"Paperboy: new in {value}",
                             f"{base}/feeds/categories/{quote(value)}.xml"))
        elif follow["kind"] == "author":
            outlines.append((f"Paperboy: papers by {value}",
                             f"{base}/feeds/authors/{quote(value)}.xml"))
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = "Paperboy feeds"
    etree.SubElement(head, "dateCreated").text = format_datetime(
        request.app.state.service.clock())
    body = etree.SubElement(opml, "body")
    for title, url in outlines:
        etree.SubElement(body, "outline", type="rss", text=title, title=title, xmlUrl=url)
    return Response(etree.tostring(opml, xml_declaration=True, encoding="utf-8",
                                   pretty_print=True),
                    media_type="text/x-opml; charset=utf-8", headers={
                        "Content-Disposition": 'attachment; filename="paperboy-feeds.opml"'})

