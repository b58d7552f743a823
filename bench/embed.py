"""Embedding throughput: the model's own `encode` against Paperboy's embedding, and the
ONNX Runtime backends beside torch.

    python bench/embed.py --papers 512 [--pipeline-batch 64] [--device cpu]

Takes the first N real papers of ../shared/corpus/arxiv_33k.jsonl.gz, builds each one's text
with `paper_text`, then times (a) `SentenceTransformer.encode` over all texts at once, (b)
`SentenceTransformerEmbedder.embed` fed in batches as the embed job feeds it, and (c) the whole
`paperboy embed` job (`embed_missing`: reading the papers from a SQLite store, embedding,
committing the vectors, adding them to the HNSW index) over the same papers. All use the same
loaded model, so the ratios show what the wrapper and the job cost.

Then the same texts through `OnnxEmbedder` (fp32 and int8 weights, embed/onnx.py): papers/s
beside torch's in the same run, the cosine of each vector to torch's (min and mean), the top-10
overlap with torch of the dev queries (../shared/eval, 108) searched over these papers by
cosine, and one short query's p50 latency for each backend (no cache); on a GPU
(`--device cuda`, fp16) only torch runs. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.embed import paper_text  # noqa: E402
from paperboy.embed.sentence import SentenceTransformerEmbedder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "arxiv_33k.jsonl.gz"


def load_texts(corpus: Path, papers: int) -> list[str]:
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        return [paper_text(json.loads(line)) for line in itertools.islice(f, papers)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=512)
    parser.add_argument("--pipeline-batch", type=int, default=64,
                        help="texts per embed() call, as the embed job sends them")
    parser.add_argument("--batch-size", type=int, default=32, help="model batch size")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()

    texts = load_texts(args.corpus, args.papers)
    embedder = SentenceTransformerEmbedder(device=args.device, batch_size=args.batch_size)
    model = embedder._model  # the same weights, called directly
    model.encode(texts[:8], batch_size=args.batch_size, show_progress_bar=False)  # warm-up

    started = time.perf_counter()
    model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                 convert_to_numpy=True, show_progress_bar=False)
    encode_s = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, len(texts), args.pipeline_batch):
        embedder.embed(texts[start:start + args.pipeline_batch])
    embed_s = time.perf_counter() - started

    job_s = _time_job(args.corpus, args.papers, embedder, args.pipeline_batch)

    encode_rate = len(texts) / encode_s
    embed_rate = len(texts) / embed_s
    job_rate = len(texts) / job_s
    # ONNX Runtime runs on the CPU here: beside a GPU it would only spend the device's time
    backends = _backends(texts, embedder, args.pipeline_batch) \
        if embedder.device == "cpu" else "compared on the CPU only"
    print(json.dumps({
        "model": embedder.name,
        "device": embedder.device,
        "max_seq_length": embedder.max_seq_length,
        "papers": len(texts),
        "pipeline_batch": args.pipeline_batch,
        "encode_papers_per_s": round(encode_rate, 2),
        "embedder_papers_per_s": round(embed_rate, 2),
        "ratio": round(embed_rate / encode_rate, 3),
        "job_papers_per_s": round(job_rate, 2),
        "job_ratio": round(job_rate / encode_rate, 3),
        "backends": backends,
    }))


def _backends(texts: list[str], torch_embedder: SentenceTransformerEmbedder,
              batch: int) -> dict[str, dict[str, float]]:
    """Each backend's papers/s, agreement with torch, and one query's latency."""
    import numpy as np

    from paperboy.embed.loader import onnx_cache
    from paperboy.embed.onnx import OnnxEmbedder
    from paperboy.embed.sentence import packaged_model_path

    eval_dir = ROOT.parent / "shared" / "eval"
    queries = [q["query"] for name in ("dev_qrels.json", "dev2_qrels.json")
               for q in json.loads((eval_dir / name).read_text())]
    folder = packaged_model_path()
    runs: dict[str, object] = {"torch": torch_embedder}
    for backend, quantized in (("onnx", False), ("onnx-int8", True)):
        runs[backend] = OnnxEmbedder(torch_embedder.name, folder,
                                     onnx_cache(torch_embedder.name, folder),
                                     quantized=quantized)
    found: dict[str, dict[str, float]] = {}
    reference = reference_queries = None
    for backend, embedder in runs.items():
        embed = embedder.embed  # type: ignore[attr-defined]
        embed(texts[:8])  # warm-up
        started = time.perf_counter()
        vectors = np.vstack([embed(texts[s:s + batch]) for s in range(0, len(texts), batch)])
        seconds = time.perf_counter() - started
        query_vectors = embed(queries)
        latency = []
        for n in range(50):
            began = time.perf_counter()
            embed([f"mixture of experts routing {n}"])
            latency.append(time.perf_counter() - began)
        row = {"papers_per_s": round(len(texts) / seconds, 2),
               "query_ms_p50": round(1000 * float(np.median(latency)), 2)}
        if reference is None:
            reference, reference_queries = vectors, query_vectors
        else:
            cosine = (vectors * reference).sum(axis=1)
            top = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :10]
            top_torch = np.argsort(-(reference_queries @ reference.T), axis=1)[:, :10]
            overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top, top_torch, strict=True)]
            row |= {"speedup": round(row["papers_per_s"] / found["torch"]["papers_per_s"], 2),
                    "cosine_min": round(float(cosine.min()), 4),
                    "cosine_mean": round(float(cosine.mean()), 4),
                    "top10_overlap_dev_queries": round(float(np.mean(overlap)), 3)}
        found[backend] = row
    return found


def _time_job(corpus: Path, papers: int, embedder: SentenceTransformerEmbedder,
              batch: int) -> float:
    """Seconds for `embed_missing` over the same papers in a fresh store."""
    from datetime import UTC, datetime

    from paperboy.embed.job import embed_missing
    from paperboy.index.vectors import HnswIndex
    from paperboy.progress import Silent
    from paperboy.sources.kaggle import parse_lines
    from paperboy.store import Store

    with gzip.open(corpus, "rb") as f:
        records = [r for r in parse_lines(itertools.islice(f, papers))
                   if not hasattr(r, "message")]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.sqlite3")
        with store.transaction() as conn:
            store.write(conn, records, datetime.now(UTC))
        index = HnswIndex.open(Path(tmp) / "vectors", model=embedder.name, dim=embedder.dim)
        started = time.perf_counter()
        embed_missing(store, index, embedder, batch_size=batch, progress=Silent())
        seconds = time.perf_counter() - started
        index.close()
        store.close()
    return seconds


if __name__ == "__main__":
    main()
