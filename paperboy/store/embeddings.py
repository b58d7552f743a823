"""Paper vectors in the store: the truth the vector index is rebuilt from.

Each vector is stored with the model that made it and its dimension (float32 bytes), and beside
it the vectors of the paper's passages (`embed/passages.py`; float16 rows, read only for a
search's few best candidates, so half the bytes cost nothing that is measured). Switching models
deletes the other model's vectors, so the store never holds a mix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, exists, func, select

from paperboy.store import tables
from paperboy.store.newest import Cursor, newest_first

_vectors = tables.embeddings
_papers = tables.papers

# Where a run of `missing` stopped: the last paper's (published, id).
EmbedCursor = Cursor


def cursor_of(paper: dict[str, Any]) -> EmbedCursor:
    return paper["published"], paper["id"]


class Embeddings:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, model: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_vectors).where(
                _vectors.c.model == model)).scalar_one()

    def missing(self, model: str, *, limit: int, after: EmbedCursor | None = None,
                passages: bool = False) -> list[dict[str, Any]]:
        """Papers with no vector from `model` (with `passages`, also those whose passages have
        none), newest first (a day's by id, descending; undated ones last: `store/newest.py`),
        after the paper `after` names if given: the papers readers look at get theirs first."""
        unembedded = ~exists().where(*self._done(model, passages))
        query = select(_papers.c.id, _papers.c.title, _papers.c.abstract,
                       _papers.c.published).where(unembedded)
        with self.engine.connect() as conn:
            return newest_first(conn, query, limit=limit, after=after)

    def dim(self, model: str) -> int | None:
        """The dimension of this model's stored vectors; None when it has none."""
        with self.engine.connect() as conn:
            return conn.execute(select(_vectors.c.dim).where(
                _vectors.c.model == model).limit(1)).scalar()

    def count_missing(self, model: str, *, passages: bool = False) -> int:
        with self.engine.connect() as conn:
            papers = conn.execute(select(func.count()).select_from(_papers)).scalar_one()
            done = conn.execute(select(func.count()).select_from(_vectors).where(
                *self._done(model, passages)[1:])).scalar_one()
        return papers - done

    @staticmethod
    def _done(model: str, passages: bool) -> list[Any]:
        """What a paper's row holds when `missing` has nothing left to do for it (the first
        condition ties the row to the paper)."""
        done = [_vectors.c.paper_id == _papers.c.id, _vectors.c.model == model]
        if passages:
            done.append(_vectors.c.passages.is_not(None))
        return done

    def save(self, conn: Connection, model: str, ids: Sequence[str], vectors: np.ndarray,
             now: datetime, *, backend: str | None = None,
             passages: Sequence[np.ndarray] | None = None) -> None:
        """Store vectors (replacing any the papers had) inside the caller's transaction, with
        each paper's passage vectors (a matrix per paper, maybe of no rows) when given;
        `backend` records what ran the model."""
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if passages is not None and len(passages) != len(ids):
            raise ValueError(f"{len(passages)} sets of passage vectors for {len(ids)} papers")
        conn.execute(delete(_vectors).where(_vectors.c.paper_id.in_(list(ids))))
        conn.execute(_vectors.insert(), [
            {"paper_id": paper_id, "model": model, "backend": backend, "dim": matrix.shape[1],
             "vector": matrix[i].tobytes(), "created_at": now,
             "passages": None if passages is None
             else np.ascontiguousarray(passages[i], dtype=np.float16).tobytes()}
            for i, paper_id in enumerate(ids)])

    def drop_other_models(self, model: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(_vectors).where(_vectors.c.model != model)).rowcount

    def vector(self, paper_id: str, model: str) -> np.ndarray | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_vectors.c.vector).where(
                _vectors.c.paper_id == paper_id, _vectors.c.model == model)).first()
        return None if row is None else np.frombuffer(row.vector, dtype=np.float32)

    def vectors_of(self, paper_ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """This model's vectors of these papers (those without one are left out)."""
        found: dict[str, np.ndarray] = {}
        ids = list(dict.fromkeys(paper_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 5000):
                for paper_id, vector in conn.execute(select(
                        _vectors.c.paper_id, _vectors.c.vector).where(
                        _vectors.c.model == model,
                        _vectors.c.paper_id.in_(ids[start:start + 5000]))):
                    found[paper_id] = np.frombuffer(vector, dtype=np.float32)
        return found

    def passages_of(self, paper_ids: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """This model's passage vectors of these papers, a float32 matrix each (papers whose
        passages have none are left out)."""
        ids = list(dict.fromkeys(paper_ids))
        with self.engine.connect() as conn:
            rows = conn.execute(select(_vectors.c.paper_id, _vectors.c.dim, _vectors.c.passages)
                                .where(_vectors.c.model == model, _vectors.c.paper_id.in_(ids),
                                       _vectors.c.passages.is_not(None))).all()
        return {paper_id: np.frombuffer(blob, dtype=np.float16).reshape(-1, dim)
                .astype(np.float32) for paper_id, dim, blob in rows}

    def ids(self, model: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(_vectors.c.paper_id).where(
                _vectors.c.model == model)).scalars())

    def batches(self, model: str, *, only: set[str] | None = None,
                size: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        """(ids, float32 matrix) for this model's vectors, optionally only for some ids."""
        query = select(_vectors.c.paper_id, _vectors.c.vector).where(
            _vectors.c.model == model).order_by(_vectors.c.paper_id)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=size).execute(query)
            for part in result.partitions(size):
                rows = [r for r in part if only is None or r.paper_id in only]
                if rows:
                    yield ([r.paper_id for r in rows],
                           np.vstack([np.frombuffer(r.vector, dtype=np.float32) for r in rows]))
