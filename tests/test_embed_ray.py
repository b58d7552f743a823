"""`paperboy embed --ray`: the same vectors as a plain run, resumable, surviving a lost worker.

One local Ray instance (2 CPUs) serves the module; the runs use it as a cluster ("local" reuses
a Ray already started in the process), so each run has 2 model-holding actors.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import LISTING, make_settings

from paperboy.embed.distributed import RayUnavailable, WorkerPlan, plan_workers
from paperboy.service import Paperboy

try:
    import ray
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("ray is not installed (pip install -e '.[ray]'); under CI this fails instead",
                allow_module_level=True)

PAPERS = 194  # in LISTING


class Interrupted(Exception):
    pass


class Watch:
    """A Progress that records what the run says, and can act after the first batch."""

    def __init__(self, *, after_first_batch: type[Exception] | None = None,
                 kill_a_worker: bool = False) -> None:
        self.notes: list[str] = []
        self.updates: list[float] = []
        self.killed: list[int] = []
        self._leftover: dict[int, psutil.Process] = {}
        self._raise = after_first_batch
        self._kill = kill_a_worker

    def start(self, description: str, *, total: float | None, unit: str) -> None:
        if self._kill:  # a previous run's actors may still be exiting: not those
            self._leftover = _actor_processes()

    def update(self, completed: float) -> None:
        self.updates.append(completed)
        if len(self.updates) == 1 and self._raise is not None:
            raise self._raise("stopped after the first batch")
        if len(self.updates) == 1 and self._kill:
            ours = {pid: process for pid, process in _actor_processes().items()
                     if pid not in self._leftover}
            assert ours, "no actor of this run found to kill"
            pid = min(ours)
            ours[pid].send_signal(signal.SIGKILL)
            self.killed.append(pid)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def finish(self) -> None:
        pass


def _actor_processes() -> dict[int, psutil.Process]:
    """The Ray Data actors among our own descendants (the Ray this module started)."""
    found = {}
    for process in psutil.Process().children(recursive=True):
        try:
            if "MapWorker" in " ".join(process.cmdline()):
                found[process.pid] = process
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _ingested(home: Path, model: str, progress: Watch | None = None,
              **settings: object) -> Paperboy:
    service = Paperboy(make_settings(home, embedding_model=model, **settings))
    service.ingest([str(LISTING)])
    if progress is not None:  # watching the embedding only
        service.progress = progress
    return service


def _stored(service: Paperboy, model: str) -> dict[str, np.ndarray]:
    return {paper_id: vector for ids, matrix in service.store.embeddings.batches(model)
            for paper_id, vector in zip(ids, matrix, strict=True)}


def _assert_same_vectors(got: dict[str, np.ndarray], want: dict[str, np.ndarray],
                         atol: float = 0.0) -> None:
    assert sorted(got) == sorted(want)
    ids = sorted(want)
    np.testing.assert_allclose(np.vstack([got[i] for i in ids]),
                               np.vstack([want[i] for i in ids]), rtol=0, atol=atol)


@pytest.fixture(scope="module")
def minilm_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The default model's vectors from a plain `paperboy embed` (no Ray)."""
    service = _ingested(tmp_path_factory.mktemp("plain"), "all-MiniLM-L6-v2")
    try:
        assert service.embed().embedded == PAPERS
        return _stored(service, "all-MiniLM-L6-v2")
    finally:
        service.close()


@pytest.fixture(scope="module")
def hashing_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    service = _ingested(tmp_path_factory.mktemp("plain-hashing"), "hashing-64")
    try:
        service.embed()
        return _stored(service, "hashing-64")
    finally:
        service.close()


def test_ray_embeds_the_same_vectors_as_a_plain_run_with_the_real_model(
        local_ray: None, tmp_path: Path, minilm_reference: dict[str, np.ndarray]) -> None:
    watch = Watch()
    service = _ingested(tmp_path / "home", "all-MiniLM-L6-v2", watch)
    summary = service.embed(ray_address="local")
    assert (summary.model, summary.embedded, summary.remaining) == ("all-MiniLM-L6-v2", PAPERS, 0)
    assert any("with 2 workers" in note for note in watch.notes), watch.notes
    assert watch.updates[-1] == PAPERS
    _assert_same_vectors(_stored(service, "all-MiniLM-L6-v2"), minilm_reference, atol=1e-5)
    # The vector index followed the store: search by meaning works at once.
    index = service.vectors()
    assert index is not None and len(index) == PAPERS
    hits = service.similar(min(minilm_reference), limit=5).hits
    assert len(hits) == 5 and all(hit.similarity is not None for hit in hits)
    service.close()


def test_a_lost_worker_costs_only_its_batch(
        local_ray: None, tmp_path: Path, minilm_reference: dict[str, np.ndarray]) -> None:
    watch = Watch(kill_a_worker=True)
    service = _ingested(tmp_path / "home", "all-MiniLM-L6-v2", watch, embed_batch_size=8)
    # 8 batches on 2 actors: the killed one had work in flight, which Ray gives to its restart.
    summary = service.embed(ray_address="local", limit=64)
    assert len(watch.killed) == 1
    assert summary.embedded == 64 and watch.updates[-1] == 64
    # these papers are undated, so they are embedded by id, descending
    first = {paper_id: minilm_reference[paper_id]
             for paper_id in sorted(minilm_reference)[-64:]}
    _assert_same_vectors(_stored(service, "all-MiniLM-L6-v2"), first, atol=1e-5)
    service.close()


def test_ray_with_the_hashing_embedder_is_exact_and_idempotent(
        local_ray: None, tmp_path: Path, hashing_reference: dict[str, np.ndarray]) -> None:
    service = _ingested(tmp_path / "home", "hashing-64", ray_address="local")
    assert service.embed().embedded == PAPERS  # the setting alone sends it to Ray
    _assert_same_vectors(_stored(service, "hashing-64"), hashing_reference)
    again = service.embed()
    assert (again.embedded, again.remaining) == (0, 0)
    _assert_same_vectors(_stored(service, "hashing-64"), hashing_reference)
    service.close()


def test_a_run_stopped_after_its_first_batch_resumes_to_the_same_vectors(
        local_ray: None, tmp_path: Path, hashing_reference: dict[str, np.ndarray]) -> None:
    home = tmp_path / "home"
    service = _ingested(home, "hashing-64", Watch(after_first_batch=Interrupted),
                        embed_batch_size=16)
    with pytest.raises(Interrupted):
        service.embed(ray_address="local")
    kept = service.store.embeddings.count("hashing-64")
    assert 0 < kept <= 16  # the first batch, committed before the run stopped
    service.close()

    resumed = Paperboy(make_settings(home, embedding_model="hashing-64", embed_batch_size=16))
    summary = resumed.embed(ray_address="local")
    assert (summary.embedded, summary.remaining) == (PAPERS - kept, 0)
    _assert_same_vectors(_stored(resumed, "hashing-64"), hashing_reference)
    index = resumed.vectors()
    assert index is not None and len(index) == PAPERS
    resumed.close()


def test_a_limited_run_embeds_the_first_papers_in_order_and_the_next_run_the_rest(
        local_ray: None, tmp_path: Path, hashing_reference: dict[str, np.ndarray]) -> None:
    service = _ingested(tmp_path / "home", "hashing-64")
    assert service.embed(limit=50, ray_address="local").embedded == 50
    # undated papers, so by id, descending
    assert sorted(_stored(service, "hashing-64")) == sorted(hashing_reference)[-50:]
    assert service.embed(ray_address="local").embedded == PAPERS - 50
    _assert_same_vectors(_stored(service, "hashing-64"), hashing_reference)
    service.close()


def test_workers_get_one_gpu_each_where_the_cluster_has_gpus() -> None:
    assert plan_workers({"CPU": 32, "GPU": 4}, workers=None, address="a") == \
        WorkerPlan(actors=4, cpus=1, gpus=1)
    assert plan_workers({"CPU": 32, "GPU": 4}, workers=2, address="a") == \
        WorkerPlan(actors=2, cpus=1, gpus=1)
    assert plan_workers({"CPU": 8}, workers=None, address="a") == \
        WorkerPlan(actors=8, cpus=1, gpus=0)
    assert plan_workers({"CPU": 8}, workers=2, address="a") == WorkerPlan(actors=2, cpus=4, gpus=0)
    with pytest.raises(RayUnavailable, match="has 4 GPUs; ask for at most 4 workers"):
        plan_workers({"CPU": 32, "GPU": 4}, workers=5, address="a")
    with pytest.raises(RayUnavailable, match="has 8 CPUs and no GPU"):
        plan_workers({"CPU": 8}, workers=9, address="a")
