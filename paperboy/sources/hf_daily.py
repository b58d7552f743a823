"""Parser for Hugging Face daily papers (``GET https://huggingface.co/api/daily_papers``).

The response is a JSON array of daily entries, each wrapping a ``paper`` object (arXiv id, title,
summary, authors) with what only Hugging Face knows: upvotes, the linked GitHub repository and
its stars, who submitted it to the daily list and when, AI keywords. The paper fields become the
record; the rest goes to ``extras["hf_daily"]`` for ranking.

Also accepted, because they cost nothing: one entry on its own, a ``{"papers": [...]}`` wrapper,
and bare paper objects (``/api/papers/{id}`` returns the paper without the daily wrapper).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any

from paperboy.models import Links, PaperRecord, RecordError, Signal, SourceError
from paperboy.signals.github import repo_name
from paperboy.sources._text import (
    arxiv_links,
    clean,
    code_links,
    parse_arxiv_id,
    parse_date,
    project_link,
)

NAME = "hf_daily"


def parse(data: bytes) -> Iterator[PaperRecord | RecordError]:
    """Parse a daily papers response; raises `SourceError` if it is not JSON of that shape."""
    for n, entry in enumerate(_entries(data), 1):
        yield _record(entry, f"record {n}")


def _entries(data: bytes) -> list[Any]:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        raise SourceError(f"hf_daily: invalid UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"hf_daily: invalid JSON ({exc.msg} at char {exc.pos})") from exc
    except RecursionError:
        raise SourceError("hf_daily: JSON nested too deeply to be a source document") from None
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if isinstance(doc.get("papers"), list):
            return doc["papers"]
        if isinstance(doc.get("paper"), dict) or "id" in doc:
            return [doc]
        if "error" in doc:
            # The Hub answers errors as {"error": "..."} with a JSON body.
            raise SourceError(f"hf_daily: the API returned an error: {doc['error']}")
    raise SourceError(f"hf_daily: expected a JSON array of daily papers, got {_kind(doc)}")


def _record(entry: Any, position: str) -> PaperRecord | RecordError:
    if not isinstance(entry, dict):
        return RecordError(NAME, position, f"expected a JSON object, got {_kind(entry)}")
    paper = entry.get("paper", entry)
    if not isinstance(paper, dict):
        return RecordError(NAME, position, f"paper is not an object but {_kind(paper)}")
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        return RecordError(NAME, position, "missing paper.id")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        return RecordError(NAME, position, f"paper.id is not an arXiv id: {raw_id!r}")
    arxiv_id = parsed[0]
    title = clean(_str(paper.get("title")) or _str(entry.get("title")))
    if not title:
        return RecordError(NAME, position, f"missing title ({arxiv_id})")
    summary = clean(_str(paper.get("summary")) or _str(entry.get("summary")))

    authors = []
    for author in _list(paper.get("authors")):
        # Hidden authors are hidden from the Hub's author list UI, not from the paper: keep all.
        name = clean(_str(author.get("name"))) if isinstance(author, dict) else ""
        if name:
            authors.append(name)

    github_repo = _str(paper.get("githubRepo")) or None
    project = _str(paper.get("projectPage")) or project_link(summary)
    abs_url, pdf_url = arxiv_links(arxiv_id)

    daily = parse_date(_str(paper.get("submittedOnDailyAt"))) or parse_date(
        _str(entry.get("publishedAt"))
    )
    submitter = _name(paper.get("submittedOnDailyBy")) or _name(entry.get("submittedBy"))
    organization = _name(paper.get("organization")) or _name(entry.get("organization"))
    extras = {
        "upvotes": _int(paper.get("upvotes")) or 0,
        "github_repo": github_repo,
        "github_stars": _int(paper.get("githubStars")),
        "submitter": submitter,
        "ai_keywords": [k for k in _list(paper.get("ai_keywords")) if isinstance(k, str)],
        "ai_summary": clean(_str(paper.get("ai_summary"))) or None,
        "num_comments": _int(entry.get("numComments")),
        "organization": organization,
        "daily_date": daily.date().isoformat() if daily else None,
    }
    return PaperRecord(
        source=NAME,
        position=position,
        title=title,
        arxiv_id=arxiv_id,
        abstract=summary,
        authors=authors,
        published=parse_date(_str(paper.get("publishedAt"))),
        links=Links(
            abstract=abs_url,
            pdf=pdf_url,
            # The repository the Hub links comes first; code_links also normalises it.
            code=code_links(github_repo, summary),
            project=project,
        ),
        extras={NAME: extras},
        signals=_signals(daily, extras["upvotes"], github_repo, extras["github_stars"]),
    )


def _signals(daily: datetime | None, upvotes: int, repo_url: str | None,
             stars: int | None) -> list[Signal]:
    """The upvote count, and the repository's stars, as they stood on the paper's daily date."""
    if daily is None:
        return []
    day = datetime.combine(daily.date(), time.min, tzinfo=UTC)
    signals = [Signal("hf_upvotes", "", day, upvotes)]
    repo = repo_name(repo_url) if repo_url else None
    if repo and stars is not None:
        signals.append(Signal("stars", repo, day, stars))
    return signals


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    # bool is an int subclass; a stray true must not read as 1 upvote.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _name(value: Any) -> str | None:
    """The handle of a Hub user or organization object (``{"name": "caltech", ...}``)."""
    if not isinstance(value, dict):
        return None
    return _str(value.get("name")) or _str(value.get("user")) or None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
