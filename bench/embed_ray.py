"""Embedding throughput on a local Ray cluster against a plain `paperboy embed`.

    python bench/embed_ray.py --papers 300 [--workers 1 2] [--model all-MiniLM-L6-v2]

Takes the first N papers of ../shared/corpus/arxiv_33k.jsonl.gz, ingests them into a fresh
home per run, then times (a) `Paperboy.embed()` in this process, and (b) `embed_on_ray` on a
local Ray instance (one per benchmark, all CPUs) with each number of workers. `wall_s` counts
everything a user waits for (model loading in the actors included, for the plain run the model
load is `load_s`); `steady_papers_per_s` is the rate from the first stored batch to the last,
once the models are loaded. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.embed.distributed import embed_on_ray  # noqa: E402
from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "arxiv_33k.jsonl.gz"


class Clock:
    """A Progress that remembers when each batch was stored."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, float]] = []

    def start(self, description: str, *, total: float | None, unit: str) -> None:
        self.stamps = []

    def update(self, completed: float) -> None:
        self.stamps.append((time.perf_counter(), completed))

    def note(self, message: str) -> None:
        print(message, file=sys.stderr)

    def finish(self) -> None:
        pass

    def steady_rate(self) -> float | None:
        if len(self.stamps) < 2:
            return None
        (t0, n0), (t1, n1) = self.stamps[0], self.stamps[-1]
        return (n1 - n0) / (t1 - t0)


def _home(root: Path, name: str, sample: Path, model: str, batch: int) -> Paperboy:
    settings = Settings.load(env={}, home=root / name, embedding_model=model,
                             embed_batch_size=batch)
    service = Paperboy(settings)
    service.ingest([str(sample)])
    return service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--batch", type=int, default=64, help="papers per batch (the setting)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()

    import ray

    result: dict[str, object] = {"papers": args.papers, "model": args.model,
                                 "cpus": os.cpu_count(), "batch": args.batch,
                                 "ray": ray.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sample = root / "sample.jsonl"
        with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
            sample.write_text("".join(itertools.islice(f, args.papers)), encoding="utf-8")

        service = _home(root, "plain", sample, args.model, args.batch)
        clock = Clock()
        service.progress = clock
        started = time.perf_counter()
        service.embedder()
        load_s = time.perf_counter() - started
        summary = service.embed()
        wall_s = time.perf_counter() - started
        service.close()
        result["plain"] = {"papers": summary.embedded, "load_s": round(load_s, 1),
                           "wall_s": round(wall_s, 1),
                           "papers_per_s": round(summary.papers_per_s, 2),
                           "steady_papers_per_s": _round(clock.steady_rate())}

        started = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False,
                 logging_level=logging.WARNING)
        result["ray_init_s"] = round(time.perf_counter() - started, 1)
        runs = []
        for workers in args.workers:
            service = _home(root, f"ray-{workers}", sample, args.model, args.batch)
            clock = Clock()
            started = time.perf_counter()
            summary = embed_on_ray(service.store, model=args.model, address="local",
                                   batch_size=args.batch, progress=clock, workers=workers)
            wall_s = time.perf_counter() - started
            service.close()
            runs.append({"workers": workers, "papers": summary.embedded,
                         "wall_s": round(wall_s, 1),
                         "papers_per_s": round(summary.papers_per_s, 2),
                         "first_batch_s": round(clock.stamps[0][0] - started, 1),
                         "steady_papers_per_s": _round(clock.steady_rate())})
        ray.shutdown()
        result["ray_runs"] = runs
    print(json.dumps(result))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


if __name__ == "__main__":
    main()
