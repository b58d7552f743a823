"""Importing a reference manager's export into a reader's library: each entry is matched to a
stored paper by arXiv id, then DOI, then normalised title; entries with an arXiv id Paperboy
does not have are fetched (from the arXiv API, by the caller's `fetch`) and matched again; the
report names every entry that matched nothing, with its line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperboy.readers.library_formats import Entry
from paperboy.store import Store
from paperboy.store.library import collection_name

__all__ = ["ImportReport", "import_entries"]

Fetch = Callable[[Sequence[str]], str | None]  # arXiv ids -> None, or why they could not be


@dataclass
class ImportReport:
    format: str
    matched: list[tuple[str, str]] = field(default_factory=list)  # (where, paper id)
    fetched: list[tuple[str, str]] = field(default_factory=list)  # matched after fetching
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    problems: list[str] = field(default_factory=list)  # what the file itself got wrong
    added: int = 0  # papers new to the library (the others were in it already)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "matched": len(self.matched),
                "fetched": len(self.fetched), "unmatched": len(self.unmatched),
                "added": self.added,
                "unmatched_entries": [{"where": w, "why": why} for w, why in self.unmatched],
                "problems": self.problems}


def import_entries(store: Store, reader_id: int, fmt: str, entries: Sequence[Entry],
                   problems: Sequence[str], now: datetime, *,
                   fetch: Fetch | None = None, collection: str | None = None) -> ImportReport:
    """Match `entries` to stored papers (fetching missing arXiv ids with `fetch`) and save the
    matches to one collection of the reader's library (the default one unless named)."""
    collection = collection_name(collection)  # a bad name fails before anything is fetched
    report = ImportReport(fmt, problems=list(problems))
    missing: list[Entry] = []
    for entry in entries:
        paper_id = _match(store, entry)
        if paper_id:
            report.matched.append((entry.where, paper_id))
        else:
            missing.append(entry)
    wanted = sorted({e.arxiv_id for e in missing if e.arxiv_id})
    trouble = fetch(wanted) if wanted and fetch is not None else None
    for entry in missing:
        paper_id = _match(store, entry) if entry.arxiv_id and fetch is not None else None
        if paper_id:
            report.fetched.append((entry.where, paper_id))
        else:
            report.unmatched.append((entry.where, _why(entry, trouble, fetch is not None)))
    for _, paper_id in report.matched + report.fetched:
        report.added += store.library.save(reader_id, paper_id, now, collection)
    return report


def _match(store: Store, entry: Entry) -> str | None:
    for key in (entry.arxiv_id, entry.doi):
        if key and (paper := store.paper(key)):
            return str(paper["id"])
    if entry.title and (paper := store.paper_by_title(entry.title)):
        return str(paper["id"])
    return None


def _why(entry: Entry, trouble: str | None, fetching: bool) -> str:
    shown = entry.title[:80] or entry.text or entry.doi or entry.arxiv_id or "an entry"
    if entry.arxiv_id and fetching:
        return f"{shown}: arXiv {entry.arxiv_id} could not be fetched ({trouble})" if trouble \
            else f"{shown}: arXiv has no paper {entry.arxiv_id}"
    if entry.arxiv_id:
        return f"{shown}: arXiv {entry.arxiv_id} is not stored here"
    if not (entry.doi or entry.title):
        return f"{shown}: no arXiv id, DOI or title to match"
    return f"{shown}: no stored paper has this " + ("DOI or title" if entry.doi else "title")
