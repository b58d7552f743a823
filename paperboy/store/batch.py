"""One batch of records matched against the stored papers it may touch, merged, and flushed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, or_, select

from paperboy.models import PaperRecord
from paperboy.sources._text import title_key
from paperboy.store import tables
from paperboy.store.merge import TITLE_KEY_LENGTH, empty_row, merge
from paperboy.store.updates import changes

Outcome = Literal["added", "updated", "unchanged"]


@dataclass
class Written:
    """What one write did: an outcome per record, and the rows it stored, as stored."""

    outcomes: list[Outcome]
    inserted: list[dict[str, Any]]
    updated: list[dict[str, Any]]
    retired: list[str]  # ids replaced by a better id (they stay resolvable as aliases)

_papers = tables.papers


@dataclass
class Batch:
    """The stored papers a batch may touch, indexed by the keys records are matched on."""

    rows: list[dict[str, Any]]
    origin: list[str | None]  # stored id of each row, None for rows this batch creates
    loaded: list[dict[str, Any] | None]
    by_arxiv: dict[str, int] = field(default_factory=dict)
    by_doi: dict[str, list[int]] = field(default_factory=dict)
    by_title: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, records: Sequence[PaperRecord]) -> Batch:
        arxiv_ids = {r.arxiv_id for r in records if r.arxiv_id}
        dois = {r.doi for r in records if r.doi}
        keys = {title_key(r.title)[:TITLE_KEY_LENGTH] for r in records}
        found = conn.execute(select(_papers).where(or_(
            _papers.c.arxiv_id.in_(arxiv_ids), _papers.c.doi.in_(dois),
            _papers.c.title_key.in_(keys)))).all()
        rows = [dict(r._mapping) for r in found]
        batch = cls(rows=[], origin=[], loaded=[])
        for row in rows:
            batch._register(row, origin=row["id"])
        return batch

    def _register(self, row: dict[str, Any], *, origin: str | None) -> int:
        handle = len(self.rows)
        self.rows.append(row)
        self.origin.append(origin)
        self.loaded.append(row if origin is not None else None)
        self._index(handle)
        return handle

    def _index(self, handle: int) -> None:
        row = self.rows[handle]
        if row["arxiv_id"]:
            self.by_arxiv[row["arxiv_id"]] = handle
        if row["doi"] and handle not in self.by_doi.setdefault(row["doi"], []):
            self.by_doi[row["doi"]].append(handle)
        if handle not in self.by_title.setdefault(row["title_key"], []):
            self.by_title[row["title_key"]].append(handle)

    def _find(self, record: PaperRecord) -> int | None:
        if record.arxiv_id and record.arxiv_id in self.by_arxiv:
            return self.by_arxiv[record.arxiv_id]
        candidates = self.by_doi.get(record.doi, []) if record.doi else []
        candidates += self.by_title.get(title_key(record.title)[:TITLE_KEY_LENGTH], [])
        for handle in candidates:
            if _compatible(self.rows[handle], record):
                return handle
        return None

    def add(self, record: PaperRecord, now: datetime) -> Outcome:
        handle = self._find(record)
        if handle is None:
            self._register(merge(empty_row(now), record, now), origin=None)
            return "added"
        before = self.rows[handle]
        after = merge(before, record, now)
        if after == before:
            return "unchanged"
        self.rows[handle] = after
        self._index(handle)
        return "updated"

    def paper_id(self, record: PaperRecord) -> str:
        """The id of the paper an added record ended up in (after every record was added)."""
        handle = self._find(record)
        assert handle is not None, "paper_id() is for records this batch added"
        return str(self.rows[handle]["id"])

    def flush(self, conn: Connection, outcomes: list[Outcome]) -> Written:
        inserts, updates, moved, news = [], [], [], []
        for row, origin, loaded in zip(self.rows, self.origin, self.loaded, strict=True):
            if origin is None:
                inserts.append(row)
            elif row is not loaded:
                updates.append({**row, "_stored_id": origin})
                if row["id"] != origin:
                    moved.append((origin, row["id"]))
                news += [{"paper_id": row["id"], "kind": kind, "detail": detail[:2000],
                          "at": row["last_changed"]}
                         for kind, detail in changes(loaded or {}, row)]
        if inserts:
            conn.execute(_papers.insert(), inserts)
        if updates:
            conn.execute(_papers.update().where(_papers.c.id == bindparam("_stored_id")), updates)
        for old, new in moved:
            _move_id(conn, old, new)
        if news:
            conn.execute(tables.paper_updates.insert(), news)
        for row in updates:
            del row["_stored_id"]
        return Written(outcomes, inserts, updates, [old for old, _ in moved])


def _compatible(row: dict[str, Any], record: PaperRecord) -> bool:
    """Whether a row found by DOI or title may be the record's paper: no conflicting ids."""
    if row["arxiv_id"] and record.arxiv_id and row["arxiv_id"] != record.arxiv_id:
        return False
    return not (row["doi"] and record.doi and row["doi"] != record.doi)


def _move_id(conn: Connection, old: str, new: str) -> None:
    aliases = tables.paper_aliases
    conn.execute(aliases.update().where(aliases.c.paper_id == old).values(paper_id=new))
    conn.execute(tables.paper_updates.update().where(
        tables.paper_updates.c.paper_id == old).values(paper_id=new))
    conn.execute(aliases.insert().values(alias=old, paper_id=new))
    conn.execute(tables.embeddings.update().where(
        tables.embeddings.c.paper_id == old).values(paper_id=new))
