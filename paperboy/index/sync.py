"""Keeping the derived indexes in step with the store, incrementally or from scratch.

The store is the truth. The lexical index follows papers by their `last_changed` time (its
watermark moves only after a complete pass, so an interrupted pass is simply redone). The vector
index follows the stored vectors: ids missing from it are added, ids gone from the store removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import func, select

from paperboy.index.lexical import LexicalIndex
from paperboy.index.vectors import VectorIndex
from paperboy.progress import Progress
from paperboy.store import Store
from paperboy.store.tables import papers

COMMIT_EVERY = 10_000  # papers per tantivy commit in a sync pass


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
    done = 0

    def papers_to_index() -> Iterator[dict[str, Any]]:
        nonlocal done
        for batch in store.changed_since(watermark, batch=5000):
            renamed.extend(store.aliases_of([p["id"] for p in batch]))
            yield from batch
            done += len(batch)
            progress.update(done)

    # A paper first stored after the last complete pass cannot be indexed yet, unless a pass
    # was interrupted after one of its commits: then every paper is treated as a replacement.
    pending = lexical.path / "sync-pending"
    interrupted = pending.exists() and watermark is not None
    pending.touch()

    def is_new(paper: dict[str, Any]) -> bool:
        return not interrupted and (watermark is None or paper["first_seen"] > watermark)

    # Few, large commits: committing every small batch makes tantivy merge segments over and
    # over, while one commit for millions of papers keeps every pending delete in memory.
    papers_left = papers_to_index()
    indexed = 0
    if watermark is None:
        lexical.clear()
    while chunk := list(islice(papers_left, COMMIT_EVERY)):
        indexed += lexical.upsert(chunk, is_new=is_new)
    if renamed:  # papers that got a better id: drop their entries under the old one
        lexical.delete(renamed)
        if vectors is not None:
            vectors.remove(renamed)
    lexical.set_watermark(newest.isoformat())
    pending.unlink()
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
