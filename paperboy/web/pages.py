"""The HTML pages. Each page is the API's data rendered by a template; with htmx, the search
page answers a request for its results (`HX-Request`) with just the results part."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from paperboy.index.authors import same_author
from paperboy.index.hybrid import MODES, PaperNotFound, looked_up_id
from paperboy.models import Filters
from paperboy.readers.library_formats import EXPORT_FORMATS, write_library
from paperboy.store.readers import reader_key
from paperboy.web import api
from paperboy.web.citation import coins, meta_tags
from paperboy.web.hf import markdown_response
from paperboy.web.render import render
from paperboy.web.session import current_reader
from paperboy.web.views import LIST_SORTS, SEARCH_SORTS, bibtex

PER_PAGE = 20
router = APIRouter(include_in_schema=False)


def _feed(title: str, path: str) -> dict[str, str]:
    return {"title": title, "href": path}


@router.get("/")
def home(request: Request) -> Response:
    service = api.service_of(request)
    newest = service.store.newest_published()
    day = newest.date() if newest else None
    latest = {"date": day.isoformat() if day else None,
              **api.listing(request, Filters(), limit=PER_PAGE, cursor=None)}
    trending = api.trending_data(request, "week", limit=10)
    return render(request, "home.html", {
        "title": "Paperboy: new and trending research papers", "latest": latest,
        "today": service.clock().date().isoformat(), "trending": trending,
        "feeds": [_feed("Trending this week", "/feeds/trending.xml?window=week")]
        + ([_feed(f"Papers of {day}", f"/feeds/daily/{day}.xml")] if day else [])})


@router.get("/search")
async def search(
    request: Request,
    filters: Annotated[Filters, Depends(api.listing_filters)],
    q: Annotated[str, Query(max_length=api.MAX_QUERY_CHARS)] = "",
    mode: str = "hybrid", page: Annotated[int, Query(ge=1, le=500)] = 1,
    sort: str = "relevance", hide_muted: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    # search and rendering both run in the requests' pool, in turn (see api.in_worker)
    return await api.in_worker(_search_page, request, filters, q, mode, page, sort,
                               hide_muted == "true")


def _search_page(request: Request, filters: Filters, q: str, mode: str,
                 page: int, sort: str, hide_muted: bool) -> Response:
    mode = mode if mode in MODES else "hybrid"
    sort = sort if sort in SEARCH_SORTS else "relevance"
    q = q.strip()
    named = looked_up_id(q)
    paper = api.service_of(request).store.paper(named) if named else None
    if paper is not None:  # a pasted arXiv id, URL or DOI: the paper itself
        url = f"/papers/{paper['id']}"
        if request.headers.get("HX-Request") == "true":  # typed into the live search box
            return Response(headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    results = (api.search_page(request, q, filters, limit=PER_PAGE,
                               offset=(page - 1) * PER_PAGE, mode=mode, sort=sort,
                               hide_muted=hide_muted)
               if q else None)
    params = {"q": q, "mode": mode, "from": filters.date_from, "to": filters.date_to,
              "category": filters.category, "has_code": "true" if filters.has_code else None,
              "sort": sort if sort != "relevance" else None,
              "hide_muted": "true" if hide_muted else None}
    reader = current_reader(request)
    context = {"title": f"{q} – Paperboy search" if q else "Search – Paperboy", "q": q,
               "mode": mode, "sort": sort, "sorts": SEARCH_SORTS, "filters": filters,
               "results": results, "hide_muted": hide_muted,
               "can_hide_muted": bool(reader and api.service_of(request).mutes_of(reader["id"])),
               "page": page, "search_page": True,
               "params": params, "modes": {"hybrid": "both", "lexical": "words",
                                           "semantic": "meaning"},
               "feeds": [_feed(f"Search: {q}", "/feeds/search.xml?" + _query(params))]
               if q else []}
    partial = request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-Target") == "results"
    return render(request, "_results.html" if partial else "search.html", context)


class _ReferenceFormat(Convertor[str]):
    """The file extensions a paper's record is served as."""

    regex = "bib|ris|json|md"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("reference", _ReferenceFormat())


@router.get("/papers/{paper_id:path}.{extension:reference}")
def paper_as(request: Request, paper_id: str, extension: str) -> Response:
    """The paper's record as BibTeX (.bib), RIS (.ris), CSL-JSON (.json) or Markdown (.md),
    the formats citation managers, scripts and `huggingface_hub.read_paper` read."""
    found = api.found(request, paper_id)
    if extension == "md":
        return markdown_response(found)
    fmt = {"bib": "bibtex", "ris": "ris", "json": "csl-json"}[extension]
    return Response(write_library([found], fmt),
                    media_type=f"{EXPORT_FORMATS[fmt][1]}; charset=utf-8",
                    headers={"Content-Disposition": "inline"})


@router.get("/papers/{paper_id:path}")
def paper(request: Request, paper_id: str) -> Response:
    found = api.found(request, paper_id)
    if _wants_markdown(request):
        return markdown_response(found)
    if found["id"] != paper_id:  # an arXiv id, DOI or old id: one URL per paper
        return RedirectResponse(f"/papers/{found['id']}", status_code=301)
    try:
        similar = api.service_of(request).similar(found["id"], limit=8)
    except PaperNotFound:
        similar = None
    reader = current_reader(request)
    store = api.service_of(request).store
    mine = {"collections": store.library.of_paper(reader["id"], found["id"]),
            "all_collections": list(store.library.collections(reader["id"])),
            "voted": store.signals.has_vote(reader_key(reader["id"]), found["id"])} \
        if reader else {}
    return render(request, "paper.html", {
        "title": f"{found['title']} – Paperboy", "paper": found, "bibtex": bibtex(found),
        "citation": meta_tags(found), "coins": coins(found),
        "similar": similar, "mine": mine, "updates": store.updates.of([found["id"]])})


@router.get("/daily")
def daily_today(request: Request) -> Response:
    service = api.service_of(request)
    day = (service.store.newest_published() or service.clock()).date()
    return RedirectResponse(f"/daily/{day}", status_code=302)


@router.get("/daily/{day}")
def daily(request: Request, day: api.Day,
          cursor: Annotated[str | None, Query(max_length=200)] = None,
          sort: str = "newest") -> Response:
    sort = sort if sort in LIST_SORTS else "newest"
    data = api.daily_data(request, day, limit=50, cursor=cursor, sort=sort)
    return render(request, "daily.html", {
        "title": f"Papers of {day} – Paperboy", "day": data, "sort": sort,
        "sorts": LIST_SORTS, "sorted_at_most": api.SORTED_AT_MOST,
        "feeds": [_feed(f"Papers of {day}", f"/feeds/daily/{day}.xml")]})


@router.get("/trending")
def trending(request: Request, window: str = "week",
             category: Annotated[str | None, Query(max_length=64)] = None,
             at: api.Day | None = None) -> Response:
    if window not in ("day", "week", "month"):
        raise HTTPException(404, f"no trending window {window!r}: day, week or month")
    data = api.trending_data(request, window, category=category, at=at, limit=50)
    return render(request, "trending.html", {
        "title": f"Trending this {window} – Paperboy", "trending": data, "category": category,
        "at": at,
        "feeds": [_feed(f"Trending this {window}", f"/feeds/trending.xml?window={window}")]})


@router.get("/categories/{category}")
def category(request: Request, category: str,
             cursor: Annotated[str | None, Query(max_length=200)] = None,
             sort: str = "newest") -> Response:
    if len(category) > 64:
        raise HTTPException(404, "no such category")
    sort = sort if sort in LIST_SORTS else "newest"
    data = api.sorted_listing(request, Filters(category=category), limit=PER_PAGE,
                              cursor=cursor, sort=sort)
    return render(request, "listing.html", {
        "title": f"{category} – Paperboy", "heading": f"New in {category}", "sort": sort,
        "sorts": LIST_SORTS, "sorted_at_most": api.SORTED_AT_MOST,
        "category": category, "listing": data, "path": f"/categories/{category}",
        "feeds": [_feed(f"New in {category}", f"/feeds/categories/{category}.xml")]})


@router.get("/authors/{name}")
def author(request: Request, name: str) -> Response:
    if len(name) > 200:
        raise HTTPException(404, "no such author")
    data = api.author_data(request, name, limit=PER_PAGE)
    reader = current_reader(request)
    follows = api.service_of(request).store.readers.follows([reader["id"]]) if reader else []
    followed = any(f["kind"] == "author" and same_author(name, f["value"]) for f in follows)
    return render(request, "author.html", {
        "title": f"{data['name']} – Paperboy", "author": data, "followed": followed,
        "feeds": [_feed(f"Papers by {data['name']}", f"/feeds/authors/{quote(name)}.xml")]})


@router.get("/papers")
def papers(request: Request,
           cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    data = api.listing(request, Filters(), limit=PER_PAGE, cursor=cursor)
    return render(request, "listing.html", {
        "title": "All papers – Paperboy", "heading": "All papers, newest first",
        "listing": data, "path": "/papers"})


def _query(params: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _wants_markdown(request: Request) -> bool:
    """Whether the client asks for Markdown before HTML (`Accept: text/markdown`)."""
    accepted = [part.split(";")[0].strip() for part in
                request.headers.get("accept", "").split(",")]
    return "text/markdown" in accepted and (
        "text/html" not in accepted or accepted.index("text/markdown") <
        accepted.index("text/html"))
