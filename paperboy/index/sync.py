"""Keeping the derived indexes in step with the store, incrementally or from scratch.

The store is the truth. The lexical index follows papers by their `last_changed` time (its
watermark moves only after a complete pass, so an interrupted pass is simply redone). During an
ingest run it follows the run itself (`following_ingest`): each committed chunk is indexed from
the rows it stored while the next chunk is parsed, and a last pass picks up what other writers
changed meanwhile. The vector index follows the stored vectors: ids missing from it are added,
ids gone from the store removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from paperboy.index.lexical import LexicalIndex, LexicalWriter
from paperboy.index.vectors import VectorIndex
from paperboy.progress import Progress
from paperboy.store import Store, Written
from paperboy.store.tables import papers

COMMIT_EVERY = 10_000  # papers per tantivy commit in a sync pass
# While following an ingest run: each commit waits for tantivy to catch up with the parser,
# so fewer commits overlap more (200k papers: 3,210/s at 10k, 3,550/s at 50k).
FOLLOW_COMMIT_EVERY = 50_000
_PENDING = "sync-pending"  # present while a pass runs: its commits are not all in the watermark


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

    is_new, pending = _begin_pass(lexical, watermark)

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


@contextmanager
def following_ingest(store: Store, lexical: LexicalIndex, progress: Progress, *,
                     vectors: VectorIndex | None = None) -> Iterator[Callable[[Written], None]]:
    """Yield the callback an ingest run gives what each chunk committed; index it as it comes.

    tantivy indexes on its own thread while the run parses the next chunk, so the words cost
    the run little. Leaving the block indexes what other writers changed since the watermark
    (only the rows whose change time is not one of this run's) and moves the watermark.
    """
    watermark = datetime.fromisoformat(lexical.watermark) if lexical.watermark else None
    is_new, pending = _begin_pass(lexical, watermark)
    ours: set[datetime] = set()  # this run's change times (one per chunk)
    with lexical.writer() as writer:
        since_commit = 0

        def committed(written: Written) -> None:
            nonlocal since_commit
            ours.update(row["last_changed"] for row in written.inserted + written.updated)
            writer.upsert(written.inserted, is_new=lambda _: True)  # new to the store
            writer.upsert(written.updated)
            writer.delete(written.retired)
            if vectors is not None and written.retired:
                vectors.remove(written.retired)
            since_commit += len(written.inserted) + len(written.updated)
            if since_commit >= FOLLOW_COMMIT_EVERY:
                writer.commit()
                since_commit = 0

        yield committed
        progress.start("indexing words", total=None, unit="papers")
        newest = _catch_up(store, writer, watermark, ours, is_new, vectors)
    if newest is not None:
        lexical.set_watermark(newest.isoformat())
    pending.unlink()
    progress.finish()


def _begin_pass(lexical: LexicalIndex, watermark: datetime | None,
                ) -> tuple[Callable[[dict[str, Any]], bool], Path]:
    """Mark a pass as running; which papers cannot be in the index yet (added without the
    delete a replacement needs), and the marker to remove when the pass is complete.

    A paper first stored after the last complete pass cannot be indexed yet, unless a pass was
    interrupted after one of its commits: then every paper is treated as a replacement.
    """
    pending = lexical.path / _PENDING
    interrupted = pending.exists() and watermark is not None
    pending.touch()

    def is_new(paper: dict[str, Any]) -> bool:
        return not interrupted and (watermark is None or paper["first_seen"] > watermark)

    return is_new, pending


def _catch_up(store: Store, writer: LexicalWriter, watermark: datetime | None,
              ours: set[datetime], is_new: Callable[[dict[str, Any]], bool],
              vectors: VectorIndex | None) -> datetime | None:
    """Index papers changed after `watermark` at times not in `ours`; the newest change time."""
    newest = None
    for batch in store.change_times(watermark):
        newest = batch[-1][1]
        others = [paper_id for paper_id, changed in batch if changed not in ours]
        if not others:
            continue
        rows = store.papers_by_ids(others).values()
        writer.upsert(rows, is_new=is_new)
        renamed = store.aliases_of(others)
        writer.delete(renamed)
        if vectors is not None and renamed:
            vectors.remove(renamed)
    return newest
