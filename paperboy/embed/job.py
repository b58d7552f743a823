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

With `passages` (the default whenever search's `rerank_candidates` is on), each paper's passages
(`embed/passages.py`) are embedded in the same model run and stored in the same row, and a paper
stored before passages were (an older Paperboy, or `paperboy embed --ray`) gets them here, its
own vector read back rather than computed again. The passages are most of the text embedded:
about 2.3 times the model's work of the papers alone (README, "Search quality").
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
from paperboy.embed.passages import passage_texts
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
                  progress: Progress, limit: int | None = None, passages: bool = True,
                  clock: Clock = system_clock) -> EmbedSummary:
    if index.model != embedder.name or index.dim != embedder.dim:
        raise ValueError(f"vector index is for {index.model} ({index.dim}), "
                         f"embedder is {embedder.name} ({embedder.dim})")
    dropped = store.embeddings.drop_other_models(embedder.name)
    todo = store.embeddings.count_missing(embedder.name, passages=passages)
    if limit is not None:
        todo = min(todo, limit)
    progress.start(f"embedding with {embedder.name}", total=todo, unit="papers")
    started = last_save = time.perf_counter()
    backend = getattr(embedder, "backend", None)

    def keep(ids: list[str], vectors: np.ndarray,
             passages: list[np.ndarray] | None) -> None:  # in the keeper's thread, in order
        nonlocal last_save
        save_batch(store, embedder.name, ids, vectors, clock, backend=backend, passages=passages)
        index.add(ids, vectors)
        if time.perf_counter() - last_save > SAVE_EVERY_S:
            index.save()
            last_save = time.perf_counter()

    done, last = 0, cast(EmbedCursor | None, None)
    kept: Future[None] | None = None  # the batch before, being stored and indexed
    with ThreadPoolExecutor(1, thread_name_prefix="paperboy-embed-keep") as keeper:
        while done < todo:
            papers = store.embeddings.missing(embedder.name, limit=min(batch_size, todo - done),
                                              after=last, passages=passages)
            if not papers:
                break
            ids = [p["id"] for p in papers]
            last = cursor_of(papers[-1])
            if passages:
                vectors, pieces = embed_with_passages(store, embedder, papers)
            else:
                vectors, pieces = embedder.embed([paper_text(p) for p in papers]), None
            if kept is not None:
                kept.result()  # its failure stops the run here
            kept = keeper.submit(keep, ids, vectors, pieces)
            done += len(ids)
            progress.update(done)
        if kept is not None:
            kept.result()
    index.save()
    progress.finish()
    return EmbedSummary(model=embedder.name, embedded=done,
                        remaining=store.embeddings.count_missing(embedder.name,
                                                                 passages=passages),
                        dropped=dropped, seconds=time.perf_counter() - started)


def embed_with_passages(store: Store, embedder: Embedder, papers: list[dict[str, object]],
                        ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The papers' vectors (read back where stored already) and each one's passage vectors,
    from one run of the model."""
    ids = [str(p["id"]) for p in papers]
    stored = store.embeddings.vectors_of(ids, embedder.name)
    fresh = [p for p in papers if p["id"] not in stored]
    texts = [paper_text(p) for p in fresh]
    per_paper = [passage_texts(p) for p in papers]
    out = embedder.embed(texts + [t for pieces in per_paper for t in pieces])
    own = dict(zip((str(p["id"]) for p in fresh), out[:len(fresh)], strict=True))
    vectors = np.vstack([stored[i] if i in stored else own[i] for i in ids]) if ids \
        else np.zeros((0, embedder.dim), dtype=np.float32)
    pieces, at = [], len(fresh)
    for texts_of_paper in per_paper:
        pieces.append(out[at:at + len(texts_of_paper)])
        at += len(texts_of_paper)
    return vectors, pieces


def save_batch(store: Store, model: str, ids: list[str], vectors: np.ndarray,
               clock: Callable[[], datetime], *, backend: str | None = None,
               passages: list[np.ndarray] | None = None) -> None:
    """Store a batch, replacing vectors of these papers. Another process embedding the same
    papers at once (two replicas' chains without the lease) commits some of them between our
    delete and insert; the paper id is the primary key, so that is an IntegrityError, never a
    duplicate, and saving again replaces theirs with ours (the same model: the same vectors)."""
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            with store.transaction() as conn:
                store.embeddings.save(conn, model, ids, vectors, clock(), backend=backend,
                                      passages=passages)
            return
        except IntegrityError:
            if attempt == SAVE_ATTEMPTS:
                raise
