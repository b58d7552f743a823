"""The paper store: batched, transactional merging of source records into papers.

A batch is matched against stored papers in one query (arXiv id, then DOI, then normalised
title), merged in memory by `merge.merge`, and written with one executemany per kind of change,
all inside the caller's transaction, so a batch is either stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, func, or_, select

from paperboy.models import PaperRecord
from paperboy.sources._text import parse_arxiv_id, title_key
from paperboy.store import tables
from paperboy.store.db import engine_for, migrate
from paperboy.store.merge import TITLE_KEY_LENGTH, empty_row, merge

Outcome = Literal["added", "updated", "unchanged"]

_papers = tables.papers


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (and create or migrate) the store at a SQLAlchemy URL."""
        engine = engine_for(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    # -- papers -----------------------------------------------------------------------------

    def write(self, conn: Connection, records: Sequence[PaperRecord],
              now: datetime) -> list[Outcome]:
        """Merge records into the store; one outcome per record, in order."""
        batch = _Batch.load(conn, records)
        outcomes = [batch.add(record, now) for record in records]
        batch.flush(conn)
        return outcomes

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """A paper by id, by an old id it had, or by arXiv id (with or without version)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_papers).where(_papers.c.id == paper_id)).first()
            if row is None:
                alias = conn.execute(select(tables.paper_aliases.c.paper_id).where(
                    tables.paper_aliases.c.alias == paper_id)).scalar()
                parsed = parse_arxiv_id(paper_id)
                row = conn.execute(select(_papers).where(or_(
                    _papers.c.id == alias,
                    _papers.c.arxiv_id == (parsed[0] if parsed else None)))).first()
            return dict(row._mapping) if row else None

    def papers(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Papers, newest first (undated last, by title)."""
        query = select(_papers).order_by(
            _papers.c.published.is_(None), _papers.c.published.desc(), _papers.c.title,
            _papers.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            papers = conn.execute(select(func.count()).select_from(_papers)).scalar_one()
            embedded = conn.execute(
                select(func.count()).select_from(tables.embeddings)).scalar_one()
        return {"papers": papers, "embedded": embedded}

    # -- resumable work ---------------------------------------------------------------------

    def state(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(tables.harvest_state.c.value).where(
                tables.harvest_state.c.key == key)).scalar()

    def set_state(self, conn: Connection, key: str, value: Any, now: datetime) -> None:
        """Record resumable state inside the caller's transaction (so it commits with the data)."""
        state = tables.harvest_state
        updated = conn.execute(state.update().where(state.c.key == key).values(
            value=value, updated_at=now))
        if updated.rowcount == 0:
            conn.execute(state.insert().values(key=key, value=value, updated_at=now))

    def clear_state(self, conn: Connection, key: str) -> None:
        conn.execute(tables.harvest_state.delete().where(tables.harvest_state.c.key == key))


@dataclass
class _Batch:
    """The stored papers a batch may touch, indexed by the keys records are matched on."""

    rows: list[dict[str, Any]]
    origin: list[str | None]  # stored id of each row, None for rows this batch creates
    loaded: list[dict[str, Any] | None]
    by_arxiv: dict[str, int] = field(default_factory=dict)
    by_doi: dict[str, list[int]] = field(default_factory=dict)
    by_title: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, records: Sequence[PaperRecord]) -> _Batch:
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

    def flush(self, conn: Connection) -> None:
        inserts, updates, moved = [], [], []
        for row, origin, loaded in zip(self.rows, self.origin, self.loaded, strict=True):
            if origin is None:
                inserts.append(row)
            elif row is not loaded:
                updates.append({**row, "_stored_id": origin})
                if row["id"] != origin:
                    moved.append((origin, row["id"]))
        if inserts:
            conn.execute(_papers.insert(), inserts)
        if updates:
            conn.execute(_papers.update().where(_papers.c.id == bindparam("_stored_id")), updates)
        for old, new in moved:
            _move_id(conn, old, new)


def _compatible(row: dict[str, Any], record: PaperRecord) -> bool:
    """Whether a row found by DOI or title may be the record's paper: no conflicting ids."""
    if row["arxiv_id"] and record.arxiv_id and row["arxiv_id"] != record.arxiv_id:
        return False
    return not (row["doi"] and record.doi and row["doi"] != record.doi)


def _move_id(conn: Connection, old: str, new: str) -> None:
    aliases = tables.paper_aliases
    conn.execute(aliases.update().where(aliases.c.paper_id == old).values(paper_id=new))
    conn.execute(aliases.insert().values(alias=old, paper_id=new))
    conn.execute(tables.embeddings.update().where(
        tables.embeddings.c.paper_id == old).values(paper_id=new))
