"""A read API under `/hf` shaped as Hugging Face's papers API, so that `huggingface_hub`
(`HfApi(endpoint="https://papers.example.org/hf")`) and the `hf papers` commands read a Paperboy
server as they read hf.co: daily papers by day, week or month (newest, or by Paperboy's own
trending ranking), search, a paper, all papers by cursor, and a paper as Markdown.

The shapes follow what huggingface_hub's `PaperInfo` parses: authors as objects with `name`,
times as `YYYY-MM-DDTHH:MM:SS.fffZ`, the paper under `paper` with `title`, `summary`,
`githubRepo`, `githubStars`, `ai_summary`, `ai_keywords` and `upvotes` also on the outer object.
These clients send the user's Hugging Face token to any endpoint: nothing here reads or logs
`Authorization` (and the README says to set `HF_HUB_DISABLE_IMPLICIT_TOKEN=1`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from paperboy.models import Filters
from paperboy.web import api
from paperboy.web.errors import documented
from paperboy.web.markdown import paper_markdown
from paperboy.web.routes import OneTrip
from paperboy.web.views import cards, listing_after, listing_cursor

router = APIRouter(prefix="/hf", tags=["hugging face compatible"], responses=documented(),
                   route_class=OneTrip)

DAILY_AT_MOST = 2_000  # papers of one day, week or month a request looks at
_YEAR = r"(1[7-9]\d\d|2[01]\d\d|2200)"
WEEK = rf"^{_YEAR}-W(0[1-9]|[1-4]\d|5[0-3])$"
MONTH = rf"^{_YEAR}-(0[1-9]|1[0-2])$"


def hf_time(value: str | datetime | None) -> str | None:
    """An ISO time as the Hub writes it (UTC, milliseconds, `Z`), which is all its client's
    `parse_datetime` reads."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def hf_paper(card: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A paper as the Hub's `/api/papers/{id}` gives it (flat)."""
    hf = (row.get("extras") or {}).get("hf_daily") or {}
    code = card["code"][0] if card["code"] else None
    daily = hf.get("daily_date")
    return {
        "id": card["arxiv_id"] or card["id"],
        "authors": [{"name": name, "hidden": False} for name in card["authors"]],
        "publishedAt": hf_time(card["published"]),
        "title": card["title"],
        "summary": card["abstract"],
        "upvotes": card["upvotes"],
        "discussionId": None,
        "projectPage": card["links"].get("project"),
        "githubRepo": code["url"] if code else None,
        "githubStars": code["stars"] if code else None,
        "ai_summary": card["summary"],
        "ai_keywords": card["keywords"],
        "submittedOnDailyAt": hf_time(f"{daily}T00:00:00+00:00") if daily else None,
        "submittedOnDailyBy": _user(hf.get("submitter")),
        "categories": card["categories"],
        "paperboyUrl": card["url"],
    }


def hf_daily(card: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A paper as an entry of the Hub's daily papers (and of its search)."""
    paper = hf_paper(card, row)
    hf = (row.get("extras") or {}).get("hf_daily") or {}
    return {
        "paper": paper,
        "publishedAt": paper["submittedOnDailyAt"] or paper["publishedAt"],
        "title": paper["title"],
        "summary": paper["summary"],
        "numComments": int(hf.get("num_comments") or 0),
        "submittedBy": paper["submittedOnDailyBy"],
        "upvotes": paper["upvotes"],
        "githubRepo": paper["githubRepo"],
        "githubStars": paper["githubStars"],
        "projectPage": paper["projectPage"],
        "ai_summary": paper["ai_summary"],
        "ai_keywords": paper["ai_keywords"],
        "isAuthorParticipating": False,
    }


def _user(name: Any) -> dict[str, Any] | None:
    if not isinstance(name, str) or not name:
        return None
    return {"user": name, "name": name, "fullname": name, "type": "user"}


def _shaped(request: Request, rows: list[dict[str, Any]], shape: Any) -> list[dict[str, Any]]:
    shown = cards(api.service_of(request).store, rows, api.base_of(request))
    return [shape(card, row) for card, row in zip(shown, rows, strict=True)]


def _range(day: date | None, week: str | None, month: str | None,
           newest: datetime | None) -> tuple[date, date, str]:
    """The first and last day a daily-papers request covers (`day`, else the ISO `week`,
    else the `month`, else the newest day with papers), and its trending window."""
    if day is not None:
        return day, day, "day"
    if week is not None and (found := re.match(WEEK, week)):
        # Monday of ISO week 1 is the Monday on or before January 4th; a week 53 the year
        # does not have is the next year's first week
        january_4 = date(int(found[1]), 1, 4)
        first = january_4 - timedelta(days=january_4.weekday()) + \
            timedelta(weeks=int(found[2]) - 1)
        return first, first + timedelta(days=6), "week"
    if month is not None and (found := re.match(MONTH, month)):
        first = date(int(found[1]), int(found[2]), 1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return first, following - timedelta(days=1), "month"
    day = (newest or datetime.now(UTC)).date()
    return day, day, "day"


@router.get("/api/daily_papers")
def daily_papers(
    request: Request,
    p: Annotated[int, Query(ge=0, le=1000, description="Page, from 0.")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    date: Annotated[api.Day | None, Query(  # noqa: A002 - the Hub's parameter name
        description="A day (UTC); default: the newest day with papers.")] = None,
    week: Annotated[str | None, Query(pattern=WEEK, description=(
        "An ISO week, YYYY-Www, Monday to Sunday (when no date is given)."))] = None,
    month: Annotated[str | None, Query(pattern=MONTH, description=(
        "A month, YYYY-MM (when no date or week is given)."))] = None,
    submitter: Annotated[str | None, Query(max_length=100, description=(
        "Only papers this Hugging Face user submitted to its daily papers."))] = None,
    sort: Literal["publishedAt", "trending"] = "publishedAt",
) -> list[dict[str, Any]]:
    """The papers first published on a day, in an ISO week or in a month, newest first, or by
    Paperboy's trending ranking for that day, week or month (`/api/trending`: the papers
    gaining upvotes and stars fastest), the others after them, newest first."""
    service = api.service_of(request)
    first, last, window = _range(date, week, month, service.store.newest_published())
    rows = service.store.listing(Filters(date_from=first, date_to=last), limit=DAILY_AT_MOST)
    if submitter:
        wanted = submitter.casefold()
        rows = [row for row in rows if str(((row.get("extras") or {}).get("hf_daily") or {})
                                           .get("submitter") or "").casefold() == wanted]
    if sort == "trending":
        ranked = service.trending(window=window, day=min(last, service.clock().date()),
                                  limit=DAILY_AT_MOST, stale_ok=True)
        place = {entry.id: n for n, entry in enumerate(ranked)}
        rows = sorted(rows, key=lambda row: place.get(row["id"], len(place)))
    return _shaped(request, rows[p * limit:(p + 1) * limit], hf_daily)


@router.get("/api/papers/search")
def search_papers(
    request: Request,
    q: Annotated[str, Query(max_length=250)] = "",
    limit: Annotated[int, Query(ge=1, le=120)] = 50,
) -> list[dict[str, Any]]:
    """Papers for a query, best first (Paperboy's hybrid search by words and meaning)."""
    if not q.strip():
        return []
    service = api.service_of(request)
    result = service.search(q, limit=limit)
    rows = service.store.papers_by_ids([hit.id for hit in result.hits])
    return _shaped(request, [rows[hit.id] for hit in result.hits if hit.id in rows], hf_daily)


@router.get("/api/papers", responses=documented(400))
def list_papers(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                cursor: api.Cursor = None) -> JSONResponse:
    """Every paper, newest first; the next page's address is in the `Link` header."""
    service = api.service_of(request)
    rows = service.store.listing(Filters(), limit=limit, after=listing_after(cursor))
    headers = {}
    if len(rows) == limit:
        after = f"{api.base_of(request)}/hf/api/papers?limit={limit}&cursor=" \
                f"{listing_cursor(rows[-1])}"
        headers["Link"] = f'<{after}>; rel="next"'
    return JSONResponse(_shaped(request, rows, hf_paper), headers=headers)


@router.get("/api/papers/{paper_id:path}", responses=documented(404))
def paper_info(request: Request, paper_id: api.PaperId) -> dict[str, Any]:
    """One paper by arXiv id (or DOI, or Paperboy id), flat, as the Hub gives it."""
    row = api.service_of(request).paper(paper_id)
    if row is None:
        raise HTTPException(404, f"no paper with id {paper_id!r}")
    return _shaped(request, [row], hf_paper)[0]


_MARKDOWN: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/markdown": {"schema": {"type": "string"}}},
    "description": "The paper as Markdown."}}


@router.get("/papers/{paper_id:path}.md", response_class=Response,
            responses=_MARKDOWN | documented(404))
def paper_markdown_page(request: Request, paper_id: api.PaperId) -> Response:
    """The paper as Markdown: title, authors, dates, links and abstract."""
    return markdown_response(api.found(request, paper_id))


@router.get("/api/agent-harnesses", include_in_schema=False)
def agent_harnesses() -> dict[str, Any]:
    """The `hf` command asks this of any endpoint and expects an object: Paperboy has none."""
    return {}


def markdown_response(card: dict[str, Any]) -> Response:
    return Response(paper_markdown(card), media_type="text/markdown; charset=utf-8")
