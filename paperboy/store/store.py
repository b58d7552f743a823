"""The paper store: batched, transactional merging of source records into papers.

A batch is matched against stored papers in one query (arXiv id, then DOI, then normalised
title), merged in memory by `merge.merge`, and written with one executemany per kind of change,
all inside the caller's transaction, so a batch is either stored whole or not at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, or_, select

from paperboy.models import Filters, PaperRecord
from paperboy.sources._text import normalize_doi, parse_arxiv_id, title_key
from paperboy.store import tables
from paperboy.store.batch import Batch, Written
from paperboy.store.db import engine_for, migrate
from paperboy.store.embeddings import Embeddings
from paperboy.store.filters import paper_filters
from paperboy.store.leases import Leases
from paperboy.store.library import Library
from paperboy.store.merge import TITLE_KEY_LENGTH
from paperboy.store.newest import Cursor, newest_first
from paperboy.store.readers import Readers
from paperboy.store.runs import Runs
from paperboy.store.sessions import ReaderSessions
from paperboy.store.signals import Signals
from paperboy.store.updates import PaperUpdates

_papers = tables.papers
# Statements run on every search, built once: a statement made afresh per call costs more to
# build and look up in SQLAlchemy's cache than SQLite takes to answer it.
_WITH_TITLE_KEY = select(_papers.c.id).where(_papers.c.title_key == bindparam("key"))


@functools.cache
def _by_ids(columns: tuple[str, ...]) -> Select[Any]:
    """The papers whose id is in the `ids` parameter: these columns (with `id`), or all."""
    chosen = [_papers.c[name] for name in dict.fromkeys(["id", *columns])] if columns \
        else [_papers]
    return select(*chosen).where(_papers.c.id.in_(bindparam("ids", expanding=True)))


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.embeddings = Embeddings(engine)
        self.signals = Signals(engine)
        self.readers = Readers(engine)
        self.library = Library(engine)
        self.runs = Runs(engine)
        self.leases = Leases(engine)
        self.sessions = ReaderSessions(engine)
        self.updates = PaperUpdates(engine)

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
              now: datetime) -> Written:
        """Merge records into the store: an outcome per record, in order, and what changed."""
        batch = Batch.load(conn, records)
        written = batch.flush(conn, [batch.add(record, now) for record in records])
        signals = [(batch.paper_id(record), signal) for record in records
                   for signal in record.signals]
        if signals:
            self.signals.observe(conn, signals)
        return written

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        """A paper by id, by an old id it had, by arXiv id (any version) or by DOI."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_papers).where(_papers.c.id == paper_id)).first()
            if row is not None:
                return dict(row._mapping)
            aliases = tables.paper_aliases
            others = [_papers.c.id == select(aliases.c.paper_id).where(
                aliases.c.alias == paper_id).scalar_subquery()]
            if parsed := parse_arxiv_id(paper_id):
                others.append(_papers.c.arxiv_id == parsed[0])
            if doi := normalize_doi(paper_id):
                others.append(_papers.c.doi == doi)
            row = conn.execute(select(_papers).where(or_(*others)).limit(1)).first()
            return dict(row._mapping) if row else None

    def paper_by_title(self, title: str) -> dict[str, Any] | None:
        """The paper whose title matches `title` as two sources' titles are matched (case,
        accents, LaTeX and punctuation aside); the first by id when several do."""
        key = title_key(title)[:TITLE_KEY_LENGTH]
        if not key:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(_papers).where(_papers.c.title_key == key)
                               .order_by(_papers.c.id).limit(1)).first()
            return dict(row._mapping) if row else None

    def papers(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Papers, newest first (undated last, by title)."""
        query = select(_papers).order_by(
            _papers.c.published.is_(None), _papers.c.published.desc(), _papers.c.title,
            _papers.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def listing(self, filters: Filters, *, limit: int,
                after: Cursor | None = None) -> list[dict[str, Any]]:
        """Papers passing `filters`, newest first (undated last, then by id, descending),
        starting after the (published, id) of the last paper of the previous page
        (`store/newest.py`)."""
        with self.engine.connect() as conn:
            return newest_first(conn, select(_papers).where(
                *paper_filters(self.engine.dialect.name, filters)), limit=limit, after=after)

    def days_around(self, start: datetime, end: datetime) -> tuple[datetime | None,
                                                                  datetime | None]:
        """The publication times closest before `start` and at or after `end`."""
        with self.engine.connect() as conn:
            before = conn.execute(select(func.max(_papers.c.published)).where(
                _papers.c.published < start)).scalar()
            after = conn.execute(select(func.min(_papers.c.published)).where(
                _papers.c.published >= end)).scalar()
        return before, after

    def newest_published(self) -> datetime | None:
        """The latest first-published time known to the day (a month from an arXiv id alone
        is no day: see `store/merge.py derived_published`)."""
        precision = _papers.c.published_precision
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(_papers.c.published)).where(
                or_(precision.is_(None), precision != "month"))).scalar()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            papers = conn.execute(select(func.count()).select_from(_papers)).scalar_one()
            embedded = conn.execute(
                select(func.count()).select_from(tables.embeddings)).scalar_one()
        return {"papers": papers, "embedded": embedded}

    def papers_by_ids(self, ids: Sequence[str], *,
                      columns: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """The stored papers by id; `columns` (with `id`) reads only those, which spares a
        search page decoding every source's extras for twenty rows."""
        with self.engine.connect() as conn:
            rows = conn.execute(_by_ids(tuple(columns or ())), {"ids": list(ids)})
            names = tuple(rows.keys())  # the first is `id`
            return {row[0]: dict(zip(names, row, strict=True)) for row in rows}

    def texts(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """{id: (title, abstract)} of the stored papers among `ids`: what the word index cuts
        snippets from, keeping no copy of its own."""
        return {paper_id: (row["title"], row["abstract"]) for paper_id, row
                in self.papers_by_ids(ids, columns=("title", "abstract")).items()}

    def published_of(self, ids: Sequence[str]) -> dict[str, datetime | None]:
        """Each paper's first-published time (None when unknown)."""
        found: dict[str, datetime | None] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 5000):
                rows = conn.execute(select(_papers.c.id, _papers.c.published).where(
                    _papers.c.id.in_(list(ids[start:start + 5000]))))
                found.update((paper_id, published) for paper_id, published in rows)
        return found

    def ids_with_title_key(self, key: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(_WITH_TITLE_KEY, {"key": key[:TITLE_KEY_LENGTH]}).scalars())

    def ids_matching(self, filters: Filters) -> set[str]:
        """Ids of the papers that pass the filters (for retrievers that filter by id set)."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(_papers.c.id).where(
                *paper_filters(self.engine.dialect.name, filters))).scalars())

    def changed_since(self, watermark: datetime | None, *,
                      batch: int = 2000) -> Iterator[list[dict[str, Any]]]:
        """Papers changed after `watermark` (all when None), oldest change first, in batches."""
        # Ordered by the indexed column alone, so the database walks its index instead of
        # sorting every changed row (which at millions of rows costs memory and time).
        query = select(_papers).order_by(_papers.c.last_changed)
        if watermark is not None:
            query = query.where(_papers.c.last_changed > watermark)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for part in result.partitions(batch):
                yield [dict(r._mapping) for r in part]

    def change_times(self, after: datetime | None, *,
                     batch: int = 5000) -> Iterator[list[tuple[str, datetime]]]:
        """(id, last_changed) of papers changed after `after`, oldest change first, in batches."""
        query = select(_papers.c.id, _papers.c.last_changed).order_by(_papers.c.last_changed)
        if after is not None:
            query = query.where(_papers.c.last_changed > after)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for part in result.partitions(batch):
                yield [(paper_id, changed) for paper_id, changed in part]

    def aliases_of(self, ids: Sequence[str]) -> list[str]:
        aliases = tables.paper_aliases
        with self.engine.connect() as conn:
            return list(conn.execute(select(aliases.c.alias).where(
                aliases.c.paper_id.in_(list(ids)))).scalars())

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
