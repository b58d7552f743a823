"""Dev-set search quality and speed, local indexes against Milvus Lite, with the real model.

    python bench/milvus_quality.py [--home DIR] [--model all-MiniLM-L6-v2] [--rerank N]

Ingests the 194-paper listing into one store and embeds it once (reusing `--home` when it
already holds the vectors), then asks the queries of ../shared/eval/dev_qrels.json (28) and
dev2_qrels.json (80) in each mode of both backends: the local tantivy + HNSW indexes, and a
Milvus Lite collection filled from the same store (`PAPERBOY_MILVUS_URI`). Both read the same
vectors, so any difference comes from the engines: BM25 analysis and field weights, and the
depth each retriever reaches. Prints one JSON object: nDCG@10, Recall@10, MRR@10 and the
median query time per query set, backend and mode, the Milvus fill time, and Milvus minus local
per set and mode.
Too slow for the test suite (about a minute on 2 cores, most of it embedding).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402

SHARED = ROOT.parent / "shared"
FLOORS = {"hybrid": 0.96, "lexical": 0.95, "semantic": 0.92}


def scorer():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("score", SHARED / "eval" / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


def measure(service: Paperboy, qrels: list[dict]) -> dict[str, dict[str, float]]:
    score = scorer()
    out = {}
    for mode in FLOORS:
        service.search("warm up", mode=mode)  # loads the model and opens the indexes
        runs, times = {}, []
        for q in qrels:
            started = time.perf_counter()
            hits = service.search(q["query"], limit=10, mode=mode).hits
            times.append(time.perf_counter() - started)
            runs[q["query"]] = [h.title for h in hits]
        out[mode] = {k: round(v, 4) for k, v in score(qrels, runs).items()}
        out[mode]["median_ms"] = round(1000 * statistics.median(times), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="reuse this data folder")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rerank", type=int, default=None,
                        help="the rerank_candidates setting (default: its default)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="paperboy-milvus-quality-"))
    qrels = {name: json.loads((SHARED / "eval" / f"{name}_qrels.json").read_text())
             for name in ("dev", "dev2")}

    def settings(milvus_uri: str = "") -> Settings:
        rerank = {} if args.rerank is None else {"rerank_candidates": args.rerank}
        return Settings.load(env={}, home=home, embedding_model=args.model,
                             milvus_uri=milvus_uri, **rerank)

    local = Paperboy(settings())
    started = time.perf_counter()
    local.ingest([str(SHARED / "corpus" / "listing_kernel_search.txt")])
    embedded = local.embed().embedded
    report: dict = {"papers": local.stats()["papers"], "embedded_now": embedded,
                    "embed_s": round(time.perf_counter() - started, 1), "floors": FLOORS,
                    "local": {name: measure(local, qs) for name, qs in qrels.items()}}
    local.close()

    milvus_db = home / "milvus.db"
    milvus = Paperboy(settings(str(milvus_db)))
    started = time.perf_counter()
    counts = milvus.reindex()
    report["milvus_fill"] = {**counts, "seconds": round(time.perf_counter() - started, 2)}
    report["milvus"] = {name: measure(milvus, qs) for name, qs in qrels.items()}
    milvus.close()
    report["milvus_minus_local"] = {
        name: {mode: round(report["milvus"][name][mode]["ndcg@10"]
                           - report["local"][name][mode]["ndcg@10"], 4) for mode in FLOORS}
        for name in qrels}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
