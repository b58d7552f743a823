"""Keeping the derived indexes in step with the store, incrementally or from scratch.

The store is the truth. The lexical index follows papers by their `last_changed` time (its
watermark moves only after a complete pass, so an interrupted pass is simply redone). The vector
index follows the stored vectors: ids missing from it are added, ids gone from the store removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from paperboy.index.lexical import LexicalIndex
from paperboy.index.vectors import VectorIndex
from paperboy.progress import Progress
from paperboy.store import Store
from paperboy.store.tables import papers


def sync_lexical(store: Store, lexical: LexicalIndex, progress: Progress, *,
                 vectors: VectorIndex | None = None) -> int:
    """Index every paper changed since the last pass; returns how many were (re)indexed."""
    watermark = datetime.fromisoformat(lexical.watermark) if lexical.watermark else None
    with store.engine.connect() as conn:
        query = select(func.count(), func.max(papers.c.last_changed))
        if watermark is not None:
            query = query.where(papers.c.last_changed > watermark)
        total, newest = conn.execute(query).one()
    if not total:
        return 0
    progress.start("indexing words", total=total, unit="papers")
    renamed: list[str] = []

    def papers_to_index() -> Iterator[dict[str, Any]]:
        done = 0
        for batch in store.changed_since(watermark, batch=5000):
            renamed.extend(store.aliases_of([p["id"] for p in batch]))
            yield from batch
            done += len(batch)
            progress.update(done)

    # One writer and one commit for the whole pass: committing every batch makes tantivy merge
    # segments over and over, which dominates the time of a large (re)build.
    indexed = lexical.upsert(papers_to_index())
    if renamed:  # papers that got a better id: drop their entries under the old one
        lexical.delete(renamed)
        if vectors is not None:
            vectors.remove(renamed)
    lexical.set_watermark(newest.isoformat())
    progress.finish()
    return indexed


def sync_vectors(store: Store, index: VectorIndex, progress: Progress) -> int:
    """Make the vector index hold exactly the store's vectors for its model; returns changes."""
    stored = store.embeddings.ids(index.model)
    present = index.ids()
    gone = present - stored
    missing = stored - present
    if gone:
        index.remove(gone)
    if missing:
        progress.start("indexing vectors", total=len(missing), unit="papers")
        done = 0
        for ids, matrix in store.embeddings.batches(index.model, only=missing):
            index.add(ids, matrix)
            done += len(ids)
            progress.update(done)
        progress.finish()
    if gone or missing:
        index.save()
    return len(gone) + len(missing)
