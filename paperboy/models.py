"""Plain data that crosses module boundaries: what a source parser yields and what the store holds.

A parser turns bytes into a stream of `PaperRecord` (one paper as one source saw it) and
`RecordError` (one record it could not read, with its position). The store merges records into
papers; nothing here touches I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(slots=True)
class Version:
    """One arXiv version: its label (``v2``) and when it was submitted (UTC), when known."""

    label: str
    date: datetime | None = None

    @property
    def number(self) -> int:
        return int(self.label.lstrip("v")) if self.label.lstrip("v").isdigit() else 0


@dataclass(frozen=True, slots=True)
class Signal:
    """A total a source observed at a moment: a paper's Hugging Face upvotes, its code
    repository's stars. Trending ranks papers by how these totals grow (signals/trending.py)."""

    kind: str  # "hf_upvotes" | "stars"
    key: str  # owner/name for stars, "" for Hugging Face upvotes
    at: datetime
    value: int


@dataclass(slots=True)
class Links:
    """Where to read a paper: abstract page, PDF, code repositories, project page."""

    abstract: str | None = None
    pdf: str | None = None
    code: list[str] = field(default_factory=list)
    project: str | None = None


@dataclass(slots=True)
class PaperRecord:
    """One paper as one source reported it. Empty means "this source did not say".

    `source` names the parser (``arxiv_api``, ``oai_arxivraw``, ``kaggle`` ...); `position` says
    where in the input the record was (``line 12``, ``entry 3``) for error messages. `extras`
    holds what only this source knows (Hugging Face upvotes, Semantic Scholar ids ...), stored
    under the source's name.
    """

    source: str
    position: str
    title: str
    arxiv_id: str | None = None
    doi: str | None = None
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    journal_ref: str | None = None
    comments: str | None = None
    license: str | None = None
    links: Links = field(default_factory=Links)
    extras: dict[str, Any] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)  # trending totals the source reported

    @property
    def version(self) -> int:
        """The latest version number this record describes; 0 when the source does not say."""
        return max((v.number for v in self.versions), default=0)


@dataclass(slots=True)
class RecordError:
    """A record a parser could not read: where it was and why. Counted as failed, never stored."""

    source: str
    position: str
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.message}"


class SourceError(Exception):
    """A whole input cannot be used (an arXiv error feed, an OAI-PMH error, an unknown format)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Filters:
    """Search filters; each retriever applies them itself, before it cuts its list to a limit."""

    date_from: date | None = None  # first-published on or after (UTC day)
    date_to: date | None = None  # first-published on or before (UTC day)
    category: str | None = None  # any of the paper's categories, e.g. "cs.LG"
    has_code: bool | None = None  # True: only papers with a code link; False: only without

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.date_from, self.date_to, self.category,
                                           self.has_code))
