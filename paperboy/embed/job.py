"""`paperboy embed`: compute the vectors papers are missing, resumably.

Papers are taken newest first (readers search and are mailed recent papers; the undated come
last). Each batch of vectors is committed to the store before it enters the vector index, in a
thread of its own while the model embeds the next batch: storing and indexing a paper costs
about as much as a GPU's model does (at 33k papers on 2 cores, ~0.35 ms a paper against the
~0.33 of all-MiniLM-L6-v2 at 3,000 papers/s), so one after the other the GPU would wait half the
time (a stand-in for a GPU that lets go of the interpreter for 0.33 ms a paper: 1,424 papers/s
one after the other, 1,966-1,970 side by side). A run killed at any moment loses at most the two
batches in flight; the next run continues with the papers still missing, and the index catches
up from the store. Two processes embedding at once (replicas should not: the daily chain's
lease keeps it to one) each store a paper's vector by replacing the other's, never beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
from sqlalchemy.exc import IntegrityError

from paperboy.clock import Clock, system_clock
from paperboy.embed import Embedder, paper_text
from paperboy.index.vectors import VectorIndex
from paperboy.progress import Progress
from paperboy.store import Store
from paperboy.store.embeddings import EmbedCursor, cursor_of

SAVE_EVERY_S = 60.0
SAVE_ATTEMPTS = 3


@dataclass
class EmbedSummary:
    model: str
    embedded: int
    remaining: int
    dropped: int  # vectors of another model deleted before starting
    seconds: float

    @property
    def papers_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def embed_missing(store: Store, index: VectorIndex, embedder: Embedder, *, batch_size: int,
                  progress: Progress, limit: int | None = None,
                  clock: Clock = system_clock) -> EmbedSummary:
    if index.model != embedder.name or index.dim != embedder.dim:
        raise ValueError(f"vector index is for {index.model} ({index.dim}), "
                         f"embedder is {embedder.name} ({embedder.dim})")
    dropped = store.embeddings.drop_other_models(embedder.name)
    todo = store.embeddings.count_missing(embedder.name)
    if limit is not None:
        todo = min(todo, limit)
    progress.start(f"embedding with {embedder.name}", total=todo, unit="papers")
    started = last_save = time.perf_counter()
    backend = getattr(embedder, "backend", None)

    def keep(ids: list[str], vectors: np.ndarray) -> None:  # in the keeper's thread, in order
        nonlocal last_save
        save_batch(store, embedder.name, ids, vectors, clock, backend=backend)
        index.add(ids, vectors)
        if time.perf_counter() - last_save > SAVE_EVERY_S:
            index.save()
            last_save = time.perf_counter()

    done, last = 0, cast(EmbedCursor | None, None)
    kept: Future[None] | None = None  # the batch before, being stored and indexed
    with ThreadPoolExecutor(1, thread_name_prefix="paperboy-embed-keep") as keeper:
        while done < todo:
            papers = store.embeddings.missing(embedder.name, limit=min(batch_size, todo - done),
                                              after=last)
            if not papers:
                break
            ids = [p["id"] for p in papers]
            last = cursor_of(papers[-1])
            vectors = embedder.embed([paper_text(p) for p in papers])
            if kept is not None:
                kept.result()  # its failure stops the run here
            kept = keeper.submit(keep, ids, vectors)
            done += len(ids)
            progress.update(done)
        if kept is not None:
            kept.result()
    index.save()
    progress.finish()
    return EmbedSummary(model=embedder.name, embedded=done,
                        remaining=store.embeddings.count_missing(embedder.name),
                        dropped=dropped, seconds=time.perf_counter() - started)


def save_batch(store: Store, model: str, ids: list[str], vectors: np.ndarray,
               clock: Callable[[], datetime], *, backend: str | None = None) -> None:
    """Store a batch, replacing vectors of these papers. Another process embedding the same
    papers at once (two replicas' chains without the lease) commits some of them between our
    delete and insert; the paper id is the primary key, so that is an IntegrityError, never a
    duplicate, and saving again replaces theirs with ours (the same model: the same vectors)."""
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            with store.transaction() as conn:
                store.embeddings.save(conn, model, ids, vectors, clock(), backend=backend)
            return
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS:
                raise
