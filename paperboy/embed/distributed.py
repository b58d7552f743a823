"""`paperboy embed --ray ADDRESS`: the embed job spread over a Ray cluster with Ray Data.

The store stays with the driver (this process): the cluster never opens it. The driver reads the
papers still missing a vector in id order, a chunk at a time, and hands their texts to Ray Data;
a pool of actors, each holding the model (loaded once per actor, one GPU each when the cluster
has GPUs), maps batches of texts to vectors; the driver commits each batch to the store as it
streams back. Saving is an upsert by paper id, so a batch computed twice is harmless: a worker
lost mid-batch costs that batch (Ray restarts the actor and retries it), and a driver killed at
any moment costs the batches in flight; the next run embeds only what is still missing. The
caller brings the vector index up to date from the store afterwards (`sync_vectors`).

Ray is an optional dependency (`pip install 'paperboy[ray]'`), imported only when a run starts.
The cluster's nodes need the same Paperboy installed, since the actors build the embedder from
the model's name exactly as `paperboy embed` does.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from paperboy.clock import Clock, system_clock
from paperboy.embed import Embedder, EmbedderUnavailable, HashingEmbedder, paper_text
from paperboy.embed.job import EmbedSummary
from paperboy.progress import Progress
from paperboy.store import Store
from paperboy.store.embeddings import EmbedCursor, cursor_of

__all__ = [
    "CHUNK_PAPERS",
    "RayEmbedFailed",
    "RayUnavailable",
    "WorkerPlan",
    "embed_on_ray",
    "load_embedder",
    "plan_workers",
    "stored_name",
]

# Papers handed to Ray Data per dataset. Each dataset starts its own actor pool (Ray Data
# keeps no actors between datasets), so a chunk should take the pool well over the few seconds
# a model takes to load, while its texts (~1 KB a paper) stay small in the driver's memory.
CHUNK_PAPERS = 50_000
LOCAL = "local"  # address meaning: start a Ray instance on this machine for this run
_HASHING = re.compile(r"hashing-(\d+)")
_QUIET = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached; the message says what to do."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class RayEmbedFailed(Exception):
    """The cluster failed during a run; what was stored before the failure stays stored."""

    def __init__(self, message: str, *, address: str, stored: int) -> None:
        super().__init__(message)
        self.address = address
        self.stored = stored


def stored_name(model: str) -> str:
    """The name vectors of `model` are stored under (what `Embedder.name` will be)."""
    from paperboy.embed.sentence import _DEFAULT_ALIASES, DEFAULT_MODEL  # no torch import

    return DEFAULT_MODEL if model in _DEFAULT_ALIASES else model


def load_embedder(model: str, *, device: str | None) -> Embedder:
    """The embedder `paperboy embed` would use for this model name (on a Ray worker)."""
    if m := _HASHING.fullmatch(model):
        return HashingEmbedder(dim=int(m.group(1)))
    from paperboy.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model, device=device)


class _EmbedBatches:
    """The Ray Data actor: loads the model once, then maps {id, text} batches to vectors.

    A model that cannot load is reported as data (an `error` column) rather than raised,
    because Ray turns an exception in an actor into an ActorDiedError that keeps only its text;
    the driver raises the model's own EmbedderUnavailable from it.
    """

    def __init__(self, model: str, expected: str, device: str | None, cpus: int) -> None:
        self.error = ""
        try:
            self.embedder: Embedder | None = load_embedder(model, device=device)
        except EmbedderUnavailable as error:
            self.embedder, self.error = None, f"on the Ray cluster: {error}"
            return
        if str(getattr(self.embedder, "device", "")).startswith("cpu"):
            # torch reads OMP_NUM_THREADS (which Ray sets per worker) once, at import; a
            # worker process reused from an earlier task keeps that task's thread count.
            import torch

            torch.set_num_threads(cpus)
        if self.embedder.name != expected:
            self.error = (f"on the Ray cluster, model {model!r} loads as "
                          f"{self.embedder.name!r}, not {expected!r}; install the same Paperboy "
                          "version on the cluster as on this machine")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        if self.embedder is None or self.error:
            return {"id": batch["id"], "error": [self.error] * len(batch["id"])}
        vectors = np.ascontiguousarray(self.embedder.embed(batch["text"].tolist()),
                                       dtype=np.float32)
        return {"id": batch["id"], "vector": [row.tobytes() for row in vectors]}


@dataclass(frozen=True)
class WorkerPlan:
    """The actor pool of a run."""

    actors: int
    cpus: int  # per actor
    gpus: int  # per actor: 1 on a cluster with GPUs, else 0


def embed_on_ray(store: Store, *, model: str, address: str, batch_size: int,
                 progress: Progress, device: str | None = None, workers: int | None = None,
                 limit: int | None = None, chunk_papers: int = CHUNK_PAPERS,
                 clock: Clock = system_clock) -> EmbedSummary:
    """Embed the papers missing a vector of `model` on the Ray cluster at `address`.

    `address` is a Ray address (`ray://host:10001`, `auto`, `host:6379`) or `local`, which
    starts a Ray instance on this machine for the run; a Ray already initialised in this process
    is used as it is. `workers` is the number of model-holding actors: by default one per GPU,
    or on a cluster without GPUs one per CPU (fewer workers share the CPUs out as torch
    threads). Vectors are committed to the store batch by batch; the vector index is not
    touched.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    name = stored_name(model)
    dropped = store.embeddings.drop_other_models(name)
    todo = store.embeddings.count_missing(name)
    if limit is not None:
        todo = min(todo, limit)
    started = time.perf_counter()
    done = 0
    if todo:
        with _connected(address, workers=workers) as ray:
            pool = plan_workers(ray.cluster_resources(), workers=workers, address=address)
            progress.note(f"embedding on Ray ({address}) with {pool.actors} workers, "
                          f"{'1 GPU' if pool.gpus else f'{pool.cpus} CPU'} each")
            progress.start(f"embedding with {name} on Ray", total=todo, unit="papers")
            last: EmbedCursor | None = None
            while done < todo:
                papers = store.embeddings.missing(name, limit=min(chunk_papers, todo - done),
                                                  after=last)
                if not papers:
                    break
                last = cursor_of(papers[-1])
                rows = [{"id": p["id"], "text": paper_text(p)} for p in papers]
                try:
                    for ids, vectors in _embedded(ray, rows, pool, model=model, name=name,
                                                  device=device, batch_size=batch_size):
                        with store.transaction() as conn:
                            store.embeddings.save(conn, name, ids, vectors, clock(),
                                                  backend="torch")
                        done += len(ids)
                        progress.update(done)
                except ray.exceptions.RayError as error:
                    raise RayEmbedFailed(
                        f"the Ray cluster at {address} failed after {done:,} papers were "
                        f"stored: {str(error).splitlines()[0]}; run `paperboy embed` again to "
                        "embed the rest", address=address, stored=done) from error
            progress.finish()
    return EmbedSummary(model=name, embedded=done,
                        remaining=store.embeddings.count_missing(name), dropped=dropped,
                        seconds=time.perf_counter() - started)


def _embedded(ray: Any, rows: list[dict[str, str]], pool: WorkerPlan, *, model: str, name: str,
              device: str | None, batch_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(ids, vectors) per batch, in the order the actors finish them."""
    dataset = ray.data.from_items(rows).map_batches(
        _EmbedBatches,
        fn_constructor_kwargs={"model": model, "expected": name, "device": device,
                               "cpus": pool.cpus},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=pool.actors),
        num_cpus=pool.cpus,
        num_gpus=pool.gpus,
    )
    dim: int | None = None
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        if "error" in batch:
            raise EmbedderUnavailable(str(batch["error"][0]), model=model)
        ids = [str(i) for i in batch["id"]]
        vectors = np.vstack([np.frombuffer(v, dtype=np.float32) for v in batch["vector"]])
        if dim is not None and vectors.shape[1] != dim:  # two versions of a model at once
            raise EmbedderUnavailable(f"the Ray workers' {name} vectors differ in dimension "
                                      f"({dim} and {vectors.shape[1]}); install one version "
                                      "of the model on every node", model=model)
        dim = vectors.shape[1]
        yield ids, vectors


def plan_workers(resources: dict[str, float], *, workers: int | None,
                 address: str) -> WorkerPlan:
    """How many actors, with what each, for a cluster with these `ray.cluster_resources()`."""
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 0))
    if gpus:
        actors = workers or gpus
        if actors > gpus:
            raise RayUnavailable(f"the Ray cluster at {address} has {gpus} GPUs; ask for at "
                                 f"most {gpus} workers (one GPU each)", address=address)
        return WorkerPlan(actors=actors, cpus=1, gpus=1)
    if cpus < 1:
        raise RayUnavailable(f"the Ray cluster at {address} has no CPU or GPU to embed on",
                             address=address)
    actors = workers or cpus
    if actors > cpus:
        raise RayUnavailable(f"the Ray cluster at {address} has {cpus} CPUs and no GPU; ask "
                             f"for at most {cpus} workers", address=address)
    return WorkerPlan(actors=actors, cpus=max(1, cpus // actors), gpus=0)


@contextmanager
def _connected(address: str, *, workers: int | None) -> Iterator[Any]:
    """The `ray` module, connected to `address` for the block (or as the caller connected it)."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise RayUnavailable(f"embedding on Ray ({address}) needs Ray Data, which is not "
                             "installed (pip install 'paperboy[ray]')", address=address) from error
    # The caller's Progress shows the run: no Ray Data bars, nor its INFO log of each dataset.
    context = ray.data.DataContext.get_current()
    bars = context.enable_progress_bars
    context.enable_progress_bars = False
    levels = {name: logging.getLogger(name).level for name in _QUIET}
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    owned = not ray.is_initialized()
    if owned:
        options: dict[str, Any] = {"logging_level": logging.WARNING}
        if address == LOCAL:
            options |= {"address": "local", "include_dashboard": False,
                        "num_cpus": max(workers or 0, os.cpu_count() or 1)}
        else:
            options["address"] = address
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RayUnavailable(f"cannot connect to the Ray cluster at {address} ({error}); "
                                 "give its address (ray://HOST:10001, or auto on a node of the "
                                 f"cluster), or {LOCAL!r} to start one here",
                                 address=address) from error
    try:
        yield ray
    finally:
        context.enable_progress_bars = bars
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if owned:
            ray.shutdown()
