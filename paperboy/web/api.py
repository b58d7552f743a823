"""The JSON API under /api (and /healthz): the data of every page, paginated by cursor."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from paperboy.index.authors import same_author
from paperboy.index.hybrid import PaperNotFound
from paperboy.models import Filters
from paperboy.service import Paperboy
from paperboy.web.errors import documented
from paperboy.web.routes import OneTrip
from paperboy.web.session import current_reader
from paperboy.web.views import (
    bibtex,
    by_signal,
    cards,
    cursor_offset,
    listing_after,
    listing_cursor,
    offset_cursor,
)

T = TypeVar("T")
MAX_QUERY_CHARS = 500
router = APIRouter(responses=documented(), route_class=OneTrip)

Limit = Annotated[int, Query(ge=1, le=100, description="How many results.")]
Cursor = Annotated[str | None, Query(max_length=200,
                                     description="`next_cursor` of the previous page.")]
Window = Literal["day", "week", "month"]
Mode = Literal["hybrid", "lexical", "semantic"]
Sort = Literal["relevance", "newest", "upvotes", "stars", "citations"]
ListSort = Literal["newest", "upvotes", "stars", "citations"]
SIGNAL_SORTS = ("upvotes", "stars", "citations")
SORTED_AT_MOST = 2_000  # papers a day or category is sorted over by a signal (the newest)
# Matches a search sorts by a signal, or hides the reader's mutes among: the best this many
SEARCH_REORDERED_AT_MOST = 200
PaperId = Annotated[str, Path(max_length=300, description="Paperboy id, arXiv id or DOI.")]


_Blank = BeforeValidator(lambda value: value or None)  # an empty form field means "any"
# The days Paperboy can compute with: windows and the word index's dates (nanoseconds since
# 1970 in 64 bits) both end near 1677 and 2262; a day outside is a 422, never a 500.
FIRST_DAY, LAST_DAY = date(1700, 1, 1), date(2200, 12, 31)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _in_range(day: date | None) -> date | None:
    if isinstance(day, datetime) or (day is not None and not isinstance(day, date)):
        raise ValueError("expected a day, YYYY-MM-DD")
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def _a_day(value: Any) -> Any:
    """Only a YYYY-MM-DD string (or a date) is a day: pydantic would take 0 as 1970-01-01."""
    if isinstance(value, int | float) and not isinstance(value, bool) or \
            isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("expected a day, YYYY-MM-DD")
    return value


# what the OpenAPI document says of a day: a date in the years 1700 to 2200
_DAY_SCHEMA = {"type": "string", "format": "date",
               "pattern": r"^(1[7-9]\d\d|2[01]\d\d|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"}
Day = Annotated[date, BeforeValidator(_a_day), AfterValidator(_in_range),
                WithJsonSchema(_DAY_SCHEMA)]
# a filter's form field, which may be left empty for "any"
_ANY_DAY = WithJsonSchema({"anyOf": [_DAY_SCHEMA, {"type": "string", "maxLength": 0}]})


def _a_bool(value: Any) -> Any:
    """Only true or false (or empty: any) is a yes or no: pydantic would take yes, on, 1 ..."""
    if isinstance(value, str) and value not in ("", "true", "false"):
        raise ValueError("expected true or false")
    return value


_ANY_BOOL = WithJsonSchema({"type": "string", "enum": ["", "true", "false"]})


async def listing_filters(
    from_: Annotated[Day | None, _Blank, _ANY_DAY,
                     Query(alias="from", description="Published on or after.")] = None,
    to: Annotated[Day | None, _Blank, _ANY_DAY,
                  Query(description="Published on or before.")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    has_code: Annotated[bool | None, _Blank, BeforeValidator(_a_bool), _ANY_BOOL,
                        Query(description="Only papers with a code link.")] = None,
) -> Filters:
    return Filters(date_from=from_, date_to=to, category=category or None, has_code=has_code)


def service_of(request: Request) -> Paperboy:
    return request.app.state.service  # type: ignore[no-any-return]


def base_of(request: Request) -> str:
    return request.app.state.base_url  # type: ignore[no-any-return]


def found(request: Request, paper_id: str) -> dict[str, Any]:
    """The stored paper by any of its ids, as a card; 404 when unknown."""
    row = service_of(request).paper(paper_id)
    if row is None:
        raise HTTPException(404, f"no paper with id {paper_id!r}")
    store = service_of(request).store
    return cards(store, [row], base_of(request))[0] | {"versions": row.get("versions") or []}


@router.get("/healthz", tags=["health"], responses={503: {
    "description": "An index is damaged or being rebuilt from the store (`status` says which, "
                   "`indexes` why)."}})
def healthz(request: Request) -> JSONResponse:
    """Liveness, the state of each index (`ok`, `rebuilt` when opened, `rebuilding`,
    `damaged`, with the reason) and what is stored."""
    service = service_of(request)
    status = service.index_health.status
    return JSONResponse({"status": status, "indexes": service.index_health.report(),
                         **service.stats()}, status_code=200 if status == "ok" else 503)


@router.get("/api/search", tags=["search"], response_class=JSONResponse,
            responses=documented(400, 503))
@router.get("/api/papers/search", tags=["search"], response_class=JSONResponse,
            responses=documented(400, 503), summary="Search (at Hugging Face's address)")
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS,
                            description="Words, \"phrases\", an arXiv id, URL or DOI.")],
    filters: Annotated[Filters, Depends(listing_filters)],
    limit: Limit = 20, cursor: Cursor = None,
    mode: Mode = "hybrid", sort: Sort = "relevance",
    hide_muted: Annotated[bool, Query(description=(
        "Leave out the papers the signed-in reader (by the session cookie) muted."))] = False,
) -> JSONResponse:
    """Papers for a query, best first (or the best newest first, or the best 200 by upvotes,
    GitHub stars or citations), each with why it matched. Operators: `-word`, `"a phrase"`,
    `author:`/`au:`, `title:`/`ti:`, `cat:`, `year:2025` or `year:2023-2025`."""
    offset = cursor_offset(cursor)
    data = await in_worker(search_page, request, q, filters, limit=limit, offset=offset,
                           mode=mode, sort=sort, hide_muted=hide_muted)
    return JSONResponse(data)


async def in_worker(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function` in the pool every request's own work runs in, in turn with the others
    (its size: `app.request_threads`)."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


def search_page(request: Request, q: str, filters: Filters, *, limit: int, offset: int,
                mode: str, sort: str = "relevance", hide_muted: bool = False) -> dict[str, Any]:
    """A page of search results; sorted by a signal, or with the signed-in reader's mutes
    hidden, the best `SEARCH_REORDERED_AT_MOST` matches are reordered or filtered first."""
    started = time.perf_counter()
    service = service_of(request)
    mutes = service.mutes_of(reader["id"]) if hide_muted and (
        reader := current_reader(request)) else None
    reordered = sort in SIGNAL_SORTS or bool(mutes)
    result = service.search(q, limit=SEARCH_REORDERED_AT_MOST if reordered else limit,
                            offset=0 if reordered else offset, mode=mode,  # type: ignore[arg-type]
                            filters=filters,
                            sort="relevance" if sort in SIGNAL_SORTS else sort)  # type: ignore[arg-type]
    hits, more = result.hits, len(result.hits) == limit and offset + limit < 10_000
    if reordered:
        rows = service.store.papers_by_ids([hit.id for hit in hits])
        if mutes:
            kept = [hit for hit in hits if hit.id in rows and not mutes.hides(rows[hit.id])]
            if hidden := len(hits) - len(kept):
                result.notices.append(f"{hidden} of the best {len(hits)} matches hidden by "
                                      "your mutes")
            hits = kept
        if sort in SIGNAL_SORTS:
            order = [card["id"] for card in by_signal(cards(
                service.store, [rows[hit.id] for hit in hits if hit.id in rows],
                base_of(request)), sort)]
            place = {paper_id: n for n, paper_id in enumerate(order)}
            hits = sorted(hits, key=lambda hit: place.get(hit.id, len(place)))
            result.sort = sort
            if len(result.hits) == SEARCH_REORDERED_AT_MOST:
                result.notices.append(f"sorted by {sort}: the best "
                                      f"{SEARCH_REORDERED_AT_MOST} matches")
        more = offset + limit < len(hits)
        hits = hits[offset:offset + limit]
    # the service's own time, for Server-Timing (how much the HTTP layer adds is measurable)
    request.state.search_ms = (time.perf_counter() - started) * 1000
    base = base_of(request)
    return {"query": result.query, "mode": result.mode, "sort": result.sort,
            "total": result.total, "notices": result.notices,
            "results": [hit.as_dict() | {"url": f"{base}/papers/{hit.id}"} for hit in hits],
            "next_cursor": offset_cursor(offset + limit) if more else None}


@router.get("/api/papers", tags=["papers"], responses=documented(400))
def papers(request: Request, filters: Annotated[Filters, Depends(listing_filters)],
           limit: Limit = 20, cursor: Cursor = None) -> dict[str, Any]:
    """Papers, newest first."""
    return listing(request, filters, limit=limit, cursor=cursor)


def sorted_listing(request: Request, filters: Filters, *, limit: int, cursor: str | None,
                   sort: str) -> dict[str, Any]:
    """`listing`, or (a signal `sort`) the newest `SORTED_AT_MOST` papers passing the filters
    by that signal, paged by offset."""
    if sort == "newest":
        return listing(request, filters, limit=limit, cursor=cursor)
    offset = cursor_offset(cursor)
    store = service_of(request).store
    shown = by_signal(cards(store, store.listing(filters, limit=SORTED_AT_MOST),
                            base_of(request)), sort)
    return {"results": shown[offset:offset + limit],
            "next_cursor": offset_cursor(offset + limit) if offset + limit < len(shown)
            else None}


def listing(request: Request, filters: Filters, *, limit: int,
            cursor: str | None) -> dict[str, Any]:
    store = service_of(request).store
    rows = store.listing(filters, limit=limit, after=listing_after(cursor))
    return {"results": cards(store, rows, base_of(request)),
            "next_cursor": listing_cursor(rows[-1]) if len(rows) == limit else None}


@router.get("/api/papers/{paper_id:path}/similar", tags=["papers"],
            responses=documented(404, 503))
def similar(request: Request, paper_id: PaperId, limit: Limit = 10) -> dict[str, Any]:
    """Papers like this one: by its vector, else by shared distinctive words."""
    try:
        result = service_of(request).similar(paper_id, limit=limit)
    except PaperNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    base = base_of(request)
    return {"id": paper_id, "notices": result.notices,
            "results": [hit.as_dict() | {"url": f"{base}/papers/{hit.id}"}
                        for hit in result.hits]}


@router.get("/api/papers/{paper_id:path}/bibtex", tags=["papers"],
            response_class=PlainTextResponse, responses=documented(404))
def paper_bibtex(request: Request, paper_id: PaperId) -> PlainTextResponse:
    """The paper as a BibTeX entry."""
    return PlainTextResponse(bibtex(found(request, paper_id)),
                             media_type="application/x-bibtex; charset=utf-8")


@router.get("/api/papers/{paper_id:path}", tags=["papers"], responses=documented(404))
def paper(request: Request, paper_id: PaperId) -> dict[str, Any]:
    """One paper with everything stored about it."""
    return found(request, paper_id)


@router.get("/api/trending", tags=["trending"])
def trending(
    request: Request, window: Window = "week",
    category: Annotated[str | None, Query(max_length=64)] = None,
    at: Annotated[Day | None, Query(description="The list as it stood at the end of this "
                                                 "day (UTC).")] = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Papers gaining upvotes and stars fastest, each with the numbers behind its place."""
    return trending_data(request, window, category=category, at=at, limit=limit)


def trending_data(request: Request, window: str, *, category: str | None = None,
                  at: date | None = None, limit: int = 20) -> dict[str, Any]:
    service = service_of(request)
    entries = service.trending(window=window, day=at, category=category or None, limit=limit,
                               stale_ok=True)
    found_cards = {c["id"]: c for c in cards(service.store, [e.paper for e in entries if e.paper],
                                             base_of(request))}
    return {"window": window, "at": at.isoformat() if at else None,
            "results": [entry.as_dict() | {"paper": found_cards.get(entry.id)}
                        for entry in entries]}


@router.get("/api/daily/{day}", tags=["papers"], responses=documented(400))
def daily(request: Request, day: Day, limit: Limit = 50, cursor: Cursor = None,
          sort: ListSort = "newest") -> dict[str, Any]:
    """Papers first published on a day (UTC), newest first or by upvotes, GitHub stars or
    citations, with the nearest days before and after."""
    return daily_data(request, day, limit=limit, cursor=cursor, sort=sort)


def daily_data(request: Request, day: date, *, limit: int, cursor: str | None,
               sort: str = "newest") -> dict[str, Any]:
    start = datetime.combine(day, day_time.min, tzinfo=UTC)
    previous, following = service_of(request).store.days_around(start,
                                                                start + timedelta(days=1))
    page = sorted_listing(request, Filters(date_from=day, date_to=day), limit=limit,
                          cursor=cursor, sort=sort)
    return {"date": day.isoformat(),
            "previous": previous.date().isoformat() if previous else None,
            "next": following.date().isoformat() if following else None, **page}


@router.get("/api/authors/{name}", tags=["papers"], responses=documented(404))
def author(request: Request, name: Annotated[str, Path(min_length=1, max_length=200)],
           limit: Limit = 50) -> dict[str, Any]:
    """An author's papers, newest first: case, accents and initials aside (`J. Smith` finds
    John Smith's), with the spellings found."""
    return author_data(request, name, limit=limit)


def author_data(request: Request, name: str, *, limit: int) -> dict[str, Any]:
    rows = service_of(request).author_papers(name)
    if not rows:
        raise HTTPException(404, f"no paper by an author named {name!r}")
    spellings = Counter(a for row in rows for a in row.get("authors") or ()
                        if same_author(name, a))
    return {"name": spellings.most_common(1)[0][0], "asked": name, "total": len(rows),
            "spellings": [a for a, _ in spellings.most_common()],
            "results": cards(service_of(request).store, rows[:limit], base_of(request))}


@router.get("/api/categories/{category}", tags=["papers"], responses=documented(400))
def category(request: Request, category: Annotated[str, Path(max_length=64)],
             limit: Limit = 20, cursor: Cursor = None,
             sort: ListSort = "newest") -> dict[str, Any]:
    """Papers in a category (any of theirs), newest first, or its newest 2,000 by upvotes,
    GitHub stars or citations."""
    return {"category": category, **sorted_listing(request, Filters(category=category),
                                                   limit=limit, cursor=cursor, sort=sort)}

