"""`/for-you`: the signed-in reader's next digest as a page, and as JSON at `/api/for-you`: new
papers on what they follow, recommendations from their library and trending papers, each with
its reason, their mutes applied. Saving, upvoting or dismissing a paper there comes back to the
page, and the next visit recomposes it (the recommendations learn from the change)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from paperboy.digest.compose import Digest
from paperboy.digest.render import SECTIONS
from paperboy.web.errors import documented
from paperboy.web.render import render
from paperboy.web.session import current_reader
from paperboy.web.views import cards

router = APIRouter()


def _sections(request: Request, digest: Digest) -> list[dict[str, Any]]:
    store, base = request.app.state.service.store, request.app.state.base_url
    rows = store.papers_by_ids([i.paper["id"] for i in digest.items])
    out = []
    for name, heading in SECTIONS:
        items = [i for i in digest.section(name) if i.paper["id"] in rows]
        shown = cards(store, [rows[i.paper["id"]] for i in items], base)
        out.append({"name": name, "heading": heading,
                    "papers": [card | {"why": item.why}
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
    `followed`, `recommended` and `trending` of paper cards, each with `why`; `hidden` counts
    the papers their mutes left out."""
    reader = current_reader(request)
    if reader is None:
        raise HTTPException(401, "sign in first: ask for a sign-in link at /signin")
    digest = request.app.state.service.for_you(reader["id"])
    return {"since": digest.since.isoformat(), "hidden": digest.hidden,
            "sections": {s["name"]: s["papers"] for s in _sections(request, digest)}}
