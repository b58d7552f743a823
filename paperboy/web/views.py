"""What pages, the JSON API and feeds show of a paper, computed once for all three.

A stored paper row becomes a `card` (JSON-ready: dates as ISO strings), with its upvotes (local
and Hugging Face) and its code repository's stars when known. Cursors are opaque, URL-safe
strings; BibTeX is built from the stored fields.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from paperboy.readers.library_formats import write_library
from paperboy.signals.github import repo_name
from paperboy.sources._text import lead, web_url
from paperboy.store import Store


class BadCursor(ValueError):
    """A pagination cursor that this server did not make."""


def cards(store: Store, rows: list[dict[str, Any]], base_url: str) -> list[dict[str, Any]]:
    """Paper rows as cards, in order, with their upvotes and stars."""
    ids = [row["id"] for row in rows]
    votes = store.signals.votes_of(ids)
    repos = {repo: None for row in rows for repo in _repos(row)}
    stars = store.signals.stars_of(list(repos))
    return [card(row, base_url, votes=votes.get(row["id"], 0), stars=stars) for row in rows]


def card(row: dict[str, Any], base_url: str, *, votes: int = 0,
         stars: dict[str, int] | None = None) -> dict[str, Any]:
    hf = (row.get("extras") or {}).get("hf_daily") or {}
    s2 = (row.get("extras") or {}).get("s2") or {}
    # stars: our last GitHub check, else what Hugging Face said of the repository it links
    hf_repo = repo_name(hf.get("github_repo") or "")
    code = []
    links = row.get("links") or {}
    for url in links.get("code") or []:
        if web_url(url) is None:  # stored before links were checked
            continue
        repo = repo_name(url)
        known = (stars or {}).get(repo or "")
        if known is None and repo is not None and repo == hf_repo:
            known = hf.get("github_stars")
        code.append({"url": url, "repo": repo, "stars": known})
    abstract = row.get("abstract") or ""
    return {
        "id": row["id"],
        "title": row["title"],
        "authors": row.get("authors") or [],
        "categories": row.get("categories") or [],
        "published": _iso(row.get("published")),
        "published_precision": row.get("published_precision"),
        "updated": _iso(row.get("updated")),
        "abstract": abstract,
        "lead": lead(abstract),
        "arxiv_id": row.get("arxiv_id"),
        "doi": row.get("doi"),
        "journal_ref": row.get("journal_ref"),
        "comments": row.get("comments"),
        "license": row.get("license"),
        "version": row.get("version"),
        "links": {**links, **{name: web_url(links.get(name)) for name in ("abstract", "pdf",
                                                                         "project")}},
        "code": code,
        # what sources said of it, each labelled with its source where shown
        "summary": hf.get("ai_summary") if isinstance(hf.get("ai_summary"), str) else None,
        "keywords": [k for k in hf.get("ai_keywords") or [] if isinstance(k, str)][:8],
        "citations": _int_or_none(s2.get("citation_count")),
        "venue": (s2.get("venue") if isinstance(s2.get("venue"), str) else None)
        or row.get("journal_ref"),
        "upvotes": votes + int(hf.get("upvotes") or 0),
        "local_upvotes": votes,
        "hf_upvotes": int(hf.get("upvotes") or 0),
        "url": f"{base_url}/papers/{row['id']}",
    }


def _repos(row: dict[str, Any]) -> list[str]:
    return [repo for url in (row.get("links") or {}).get("code") or []
            if (repo := repo_name(url))]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- cursors ------------------------------------------------------------------------------------


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise BadCursor(f"cursor {cursor[:40]!r} is not one this server gave out") from exc


def listing_cursor(row: dict[str, Any]) -> str:
    return encode_cursor([_iso(row.get("published")), row["id"]])


def listing_after(cursor: str | None) -> tuple[datetime | None, str] | None:
    if not cursor:
        return None
    value = decode_cursor(cursor)
    try:
        when, paper_id = value
        moment = datetime.fromisoformat(when) if when else None
        if moment is not None and moment.tzinfo is None:
            raise ValueError("a cursor's time carries its zone")
        return moment, str(paper_id)
    except (TypeError, ValueError) as exc:
        raise BadCursor("the cursor does not name a place in this listing") from exc


def offset_cursor(offset: int) -> str:
    return encode_cursor({"offset": offset})


def cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor)
    if not isinstance(value, dict) or not isinstance(value.get("offset"), int) \
            or not 0 <= value["offset"] <= 10_000:
        raise BadCursor("the cursor does not name a place in these results")
    return int(value["offset"])


# -- BibTeX -------------------------------------------------------------------------------------


def bibtex(paper: dict[str, Any]) -> str:
    """A paper card as one BibTeX entry, written as the library export writes them."""
    return write_library([paper], "bibtex")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


LIST_SORTS = ("newest", "upvotes", "stars", "citations")
SEARCH_SORTS = ("relevance", *LIST_SORTS)


def by_signal(shown: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Cards with the most upvotes, GitHub stars or citations first (ties: as they came,
    newest first); a card with no such signal goes last."""
    def signal(card: dict[str, Any]) -> float:
        if sort == "upvotes":
            return float(card["upvotes"])
        if sort == "stars":
            return float(max((c["stars"] for c in card["code"] if c["stars"] is not None),
                             default=-1))
        return float(card["citations"] if card["citations"] is not None else -1)

    return sorted(shown, key=signal, reverse=True)

