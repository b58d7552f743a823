"""Recommendation quality: recall@20 of held-out library papers for simulated readers.

    python bench/recommend.py [--distractors 2000] [--splits 3] [--k 20]

The pool is the 194 papers of ../shared/corpus/listing_kernel_search.txt plus N distractors
drawn (seed 7) from ../shared/corpus/arxiv_33k.jsonl.gz, all embedded with all-MiniLM-L6-v2
(`paper_text`: "Title. Abstract"); vectors are cached in bench/out/recommend_vectors.npz and
reused while the model and texts are unchanged.

Simulated readers, one per topic in TOPICS. A listing paper belongs to a topic when the topic's
pattern occurs in its title, or at least twice in its abstract (a paper about the topic, not
one that mentions it in passing); papers that mention it once stay in the pool as near misses.
The eval judgements in ../shared/eval are not used: they judge 1-4 papers per narrow query, too
few to split into a library and a held-out part. Distractors are drawn only from arXiv papers
whose title and abstract match no topic pattern, so no unjudged relevant paper hides among them.

For each topic and split (seeds 0..splits-1) the members are shuffled; half of them (at least
2) form the reader's library and the rest are held out. Each method recommends k papers from the
whole pool, never a library paper; recall@k = held-out papers found / held-out papers:

- `linear`: `paperboy.readers.recommend.recommend` (a classifier on library vs sampled papers),
- `centroid`: the baseline, nearest neighbours of the mean library vector,
- `cold_start`: `cold_start` from the topic's phrase embedded as a query, no library at all.

Two collections: for every pair of topics (A, B) and split, a reader keeps A's library and
B's library as two collections. A's model (`recommend` with B's papers passed as `others`, as
the digest does) is scored on A's held-out papers the reader has not saved in B, against the
one-collection reader (A's library alone) on the same held-out papers; `pairs.flat` is the
reader who keeps A and B in one library, on the same papers with k doubled (one model, the
same number of recommendations as two).

Prints one JSON object: per topic the member counts and each method's recall per split and
mean, the mean over topics, and the two-collection figures (mean recall@k per collection for
the single, two-collection and flat readers).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.embed import normalize_rows, paper_text  # noqa: E402
from paperboy.embed.sentence import DEFAULT_MODEL, SentenceTransformerEmbedder  # noqa: E402
from paperboy.models import PaperRecord  # noqa: E402
from paperboy.readers.recommend import cold_start, recommend  # noqa: E402
from paperboy.sources import listing  # noqa: E402

SHARED = ROOT.parent / "shared"
LISTING = SHARED / "corpus" / "listing_kernel_search.txt"
ARXIV = SHARED / "corpus" / "arxiv_33k.jsonl.gz"
CACHE = ROOT / "bench" / "out" / "recommend_vectors.npz"

# Topic phrase (also the cold-start query) -> membership pattern, matched case-insensitively.
TOPICS = {
    "KV cache": r"\bKV[- ]?cach",
    "mixture of experts": r"mixture[- ]of[- ]experts|\bMoEs?\b",
    "kernel methods": (
        r"kernel (ridge|regression|methods?|machines?|density|PCA|thinning|two-sample"
        r"|mean embeddings?|clustering|classifiers?|bandits?)|kerneli[sz]ed (stein|contextual)"
        r"|kernel stein|tangent kernel|\bRKHS\b|reproducing kernel|random features"
        r"|gaussian process(es)?"
    ),
    "convolution kernels": (
        r"(large|selective|continuous|convolution(al)?|dynamic|depth-?wise) kernels?"
        r"|kernel sizes?|kernel[- ]sharing|kernel convolutions?|large-kernel"
    ),
    "GPU kernels": (
        r"(GPU|CUDA|Triton|AI|compute) kernels?|kernel (generation|library|optimi[sz]ations?)"
        r"|KernelBench|\bTriton\b"
    ),
    "linear attention": (
        r"linear (self-)?attention|linear transformers?|softmax-free|kerneli[sz]ed attention"
        r"|\bperformers?\b|cosine attention|FAVOR\+"
    ),
    "low-bit quantization": r"quantiz|\b\d(\.\d+)?-bit\b|low-precision|\bW\dA\d",
}
PATTERNS = {topic: re.compile(pattern, re.I) for topic, pattern in TOPICS.items()}
ANY_TOPIC = re.compile("|".join(f"(?:{p})" for p in TOPICS.values()), re.I)


def is_member(pattern: re.Pattern[str], title: str, abstract: str) -> bool:
    return bool(pattern.search(title)) or len(pattern.findall(abstract)) >= 2


def _norm_title(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


def load_pool(distractors: int) -> tuple[list[str], list[dict[str, str]]]:
    """(ids, papers): the listing, then distractors from the arXiv snapshot."""
    records = listing.parse(LISTING.read_bytes())
    papers = [{"title": r.title, "abstract": r.abstract or ""}
              for r in records if isinstance(r, PaperRecord)]
    ids = [f"listing-{n:03d}" for n in range(len(papers))]
    seen = {_norm_title(p["title"]) for p in papers}
    with gzip.open(ARXIV, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    eligible = [
        row for row in rows
        if row.get("title") and row.get("abstract")
        and _norm_title(row["title"]) not in seen
        and not ANY_TOPIC.search(f"{row['title']} {row['abstract']}")
    ]
    for row in random.Random(7).sample(eligible, distractors):
        ids.append(str(row["id"]))
        papers.append({"title": row["title"], "abstract": row["abstract"]})
    return ids, papers


def embed_cached(texts: list[str]) -> tuple[np.ndarray, float | None]:
    """Vectors for `texts` (papers, then topic phrases) and the seconds spent embedding them
    (None when they came from the cache)."""
    key = hashlib.blake2b("\x00".join([DEFAULT_MODEL, *texts]).encode(), digest_size=16)
    if CACHE.exists():
        cached = np.load(CACHE)
        if str(cached["key"]) == key.hexdigest():
            return cached["vectors"], None
    started = time.perf_counter()
    vectors = SentenceTransformerEmbedder(DEFAULT_MODEL).embed(texts)
    seconds = time.perf_counter() - started
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, key=key.hexdigest(), vectors=vectors)
    return vectors, seconds


def centroid(library: dict[str, np.ndarray], ids: list[str], matrix: np.ndarray,
             k: int) -> list[str]:
    mean = normalize_rows(np.mean(list(library.values()), axis=0))[0]
    order = np.argsort(-(matrix @ mean), kind="stable")
    return [ids[i] for i in order if ids[i] not in library][:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()

    ids, papers = load_pool(args.distractors)
    topics = list(TOPICS)
    vectors, embed_s = embed_cached([paper_text(p) for p in papers] + topics)
    matrix, topic_vectors = vectors[: len(ids)], vectors[len(ids):]
    listing_count = sum(1 for i in ids if i.startswith("listing-"))
    row_of = {paper_id: row for row, paper_id in enumerate(ids)}

    methods = ("linear", "centroid", "cold_start")
    report: dict[str, dict[str, object]] = {}
    timings: list[float] = []
    splits: dict[tuple[str, int], tuple[dict[str, np.ndarray], set[str]]] = {}
    for topic, topic_vector in zip(topics, topic_vectors, strict=True):
        members = [ids[n] for n in range(listing_count)
                   if is_member(PATTERNS[topic], papers[n]["title"], papers[n]["abstract"])]
        size = max(2, len(members) // 2)
        recalls: dict[str, list[float]] = {m: [] for m in methods}
        for split in range(args.splits):
            shuffled = random.Random(split).sample(members, len(members))
            library = {p: matrix[row_of[p]] for p in shuffled[:size]}
            held = set(shuffled[size:])
            splits[topic, split] = library, held
            started = time.perf_counter()
            linear = recommend(library=library, dismissed={}, candidates=ids, matrix=matrix,
                               k=args.k, seed=split)
            timings.append(time.perf_counter() - started)
            found = {
                "linear": [r.paper_id for r in linear],
                "centroid": centroid(library, ids, matrix, args.k),
                "cold_start": [r.paper_id for r in cold_start(
                    topics={topic: topic_vector}, candidates=ids, matrix=matrix, k=args.k,
                    exclude=library)],
            }
            for method, top in found.items():
                recalls[method].append(round(len(held & set(top)) / len(held), 3))
        report[topic] = {
            "members": len(members), "library": size, "held_out": len(members) - size,
            "recall": {m: {"splits": r, "mean": round(float(np.mean(r)), 3)}
                       for m, r in recalls.items()},
        }
    mean = {m: round(float(np.mean([report[t]["recall"][m]["mean"]  # type: ignore[index]
                                    for t in topics])), 3) for m in methods}
    pairs = two_collections(splits, topics, ids, matrix, args)
    print(json.dumps({
        "model": DEFAULT_MODEL,
        "pool": {"listing": listing_count, "distractors": len(ids) - listing_count},
        "k": args.k, "splits": args.splits,
        f"mean_recall@{args.k}": mean,
        "topics": report,
        "two_collections": pairs,
        "embed_s": None if embed_s is None else round(embed_s, 1),  # None: from the cache
        "recommend_ms_median": round(1000 * float(np.median(timings)), 1),
    }, indent=1))


def two_collections(splits: dict[tuple[str, int], tuple[dict[str, np.ndarray], set[str]]],
                    topics: list[str], ids: list[str], matrix: np.ndarray,
                    args: argparse.Namespace) -> dict[str, object]:
    """Recall@k of collection A for readers who keep A alone, A beside B (two collections,
    B's papers as A's negatives) and A with B in one library (one model, 2k picks)."""
    found: dict[str, list[float]] = {"single": [], "two_collections": [], "flat": []}
    worse = 0
    for a in topics:
        for b in topics:
            if a == b:
                continue
            for split in range(args.splits):
                library, held = splits[a, split]
                other = {p: v for p, v in splits[b, split][0].items() if p not in library}
                held = held - set(other)  # saved in B already: nothing to recommend
                if not held:
                    continue
                single = recommend(library=library, dismissed={}, candidates=ids,
                                   matrix=matrix, k=args.k, seed=split, exclude=other)
                two = recommend(library=library, dismissed={}, candidates=ids, matrix=matrix,
                                k=args.k, seed=split, others=other)
                flat = recommend(library=library | other, dismissed={}, candidates=ids,
                                 matrix=matrix, k=2 * args.k, seed=split)
                scores = {name: len(held & {r.paper_id for r in picks}) / len(held)
                          for name, picks in (("single", single), ("two_collections", two),
                                              ("flat", flat))}
                worse += scores["two_collections"] < scores["single"]
                for name, score in scores.items():
                    found[name].append(score)
    return {f"mean_recall@{args.k}": {name: round(float(np.mean(v)), 3)
                                      for name, v in found.items()},
            "cases": len(found["single"]), "two_below_single": worse}


if __name__ == "__main__":
    main()
