"""Embedding throughput: the model's own `encode` against `SentenceTransformerEmbedder.embed`.

    python bench/embed.py --papers 256 [--pipeline-batch 64] [--device cpu]

Takes the first N real papers of ../shared/corpus/arxiv_33k.jsonl.gz, builds each one's text
with `paper_text`, then times (a) `SentenceTransformer.encode` over all texts at once and (b)
`SentenceTransformerEmbedder.embed` fed in batches as the background embed job feeds it. Both
use the same loaded model, so the ratio shows what the wrapper and batching cost. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
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

    encode_rate = len(texts) / encode_s
    embed_rate = len(texts) / embed_s
    print(json.dumps({
        "model": embedder.name,
        "device": embedder.device,
        "max_seq_length": embedder.max_seq_length,
        "papers": len(texts),
        "pipeline_batch": args.pipeline_batch,
        "encode_papers_per_s": round(encode_rate, 2),
        "embedder_papers_per_s": round(embed_rate, 2),
        "ratio": round(embed_rate / encode_rate, 3),
    }))


if __name__ == "__main__":
    main()
