"""Search quality: Paperboy's three modes against the plain baselines, in one run.

    python bench/quality.py                  # listing, and the 33k corpus beside it
    python bench/quality.py --no-corpus      # the 194-paper listing only (a minute)
    python bench/quality.py --words-only     # no model: lexical and plain BM25 only

Both query sets of `../shared/eval` (`dev_qrels.json`, `dev2_qrels.json`) are scored with
its `score.py` (nDCG@10), overall and per query type, over the listing alone and with
`../shared/corpus/arxiv_33k.jsonl.gz` ingested beside it. The plain baselines are the ones the
eval README defines: tantivy BM25 with `en_stem` over one field holding title + abstract, the
query's words OR-ed; all-MiniLM-L6-v2 cosine over "title. abstract"; their reciprocal rank
fusion (k = 60, equal weights, top 100 of each). Paperboy runs through its own service, as a
user's search does.

Beside each set's figures, `significance` compares, on every row, hybrid with the best plain
baseline of that row and words only with plain BM25: the difference in nDCG@10 and the p-value
of a paired randomization test over the row's queries (`paired_randomization`), so a row won or
lost by one paper at rank 9 reads as what it is.

The model runs once per text: vectors are cached by text in `--cache` (default
`bench/.cache/`), so later runs only embed the queries they have not seen. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tantivy
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.embed import Embedder, paper_text  # noqa: E402
from paperboy.embed.precomputed import text_key  # noqa: E402
from paperboy.index.fuse import reciprocal_rank_fusion  # noqa: E402
from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402

# the shared folder (corpus, eval) beside the checkout, or where PAPERBOY_SHARED_DIR says
SHARED = Path(os.environ.get("PAPERBOY_SHARED_DIR") or ROOT.parent / "shared")
QUERY_SETS = ("dev", "dev2")
PLAIN_DEPTH = 100


class CachedEmbedder:
    """The real embedder behind a cache of vectors by text (an `Embedder`)."""

    def __init__(self, load: Callable[[], Embedder], name: str, path: Path) -> None:
        self._load = load
        self._inner: Embedder | None = None
        self.name = name
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        self.dim = len(next(iter(self.vectors.values()))) if self.vectors else \
            self._model().dim
        self.computed = 0

    def _model(self) -> Embedder:
        if self._inner is None:
            self._inner = self._load()
        return self._inner

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True)
                          if k not in self.vectors}.items(), key=lambda kt: len(kt[1]))
        for start in range(0, len(missing), 256):
            chunk = missing[start:start + 256]
            for (key, _), vector in zip(chunk, self._model().embed([t for _, t in chunk]),
                                        strict=True):
                self.vectors[key] = vector
            self.computed += len(chunk)
            if len(missing) > 256:
                print(f"  embedded {self.computed:,} of {len(missing):,}", file=sys.stderr,
                      flush=True)
                if start % 4096 == 0:
                    self.save()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self.vectors[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.vstack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)


# -- the corpus as plain records -----------------------------------------------------------


def listing_records() -> list[dict[str, str]]:
    lines = [line.strip() for line in
             (SHARED / "corpus" / "listing_kernel_search.txt").read_text().splitlines()
             if line.strip()]
    return [{"title": lines[i], "abstract": lines[i + 1]} for i in range(0, len(lines) - 1, 2)]


def corpus_records() -> list[dict[str, str]]:
    with gzip.open(SHARED / "corpus" / "arxiv_33k.jsonl.gz", "rt") as f:
        return [{"title": r["title"], "abstract": r["abstract"]} for r in map(json.loads, f)]


# -- plain baselines -----------------------------------------------------------------------


class PlainBM25:
    """tantivy BM25 over one `en_stem` field holding title + abstract; words OR-ed."""

    def __init__(self, records: list[dict[str, str]]) -> None:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("text", stored=False, tokenizer_name="en_stem")
        builder.add_integer_field("n", stored=True, fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        writer = self.index.writer(heap_size=200_000_000)
        for n, record in enumerate(records):
            writer.add_document(tantivy.Document(text=f"{record['title']} {record['abstract']}",
                                                 n=n))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.records = records

    def search(self, query: str, limit: int) -> list[int]:
        words = re.findall(r"[^\W_]+", query.lower())
        if not words:
            return []
        found = self.index.searcher().search(
            self.index.parse_query(" ".join(words), ["text"]), limit)
        searcher = self.index.searcher()
        return [searcher.doc(address)["n"][0] for _, address in found.hits]


class PlainMiniLM:
    def __init__(self, records: list[dict[str, str]], embedder: CachedEmbedder) -> None:
        self.embedder = embedder
        self.matrix = embedder.embed([paper_text(r) for r in records])

    def search(self, query: str, limit: int) -> list[int]:
        scores = self.matrix @ self.embedder.embed_query(query)
        top = np.argpartition(-scores, min(limit, len(scores) - 1))[:limit]
        return [int(i) for i in top[np.argsort(-scores[top])]]


def plain_rrf(bm25: list[int], minilm: list[int]) -> list[int]:
    fused = reciprocal_rank_fusion({"bm25": [str(i) for i in bm25],
                                    "minilm": [str(i) for i in minilm]}, k=60)
    return [int(i) for i, _ in fused]


# -- scoring -------------------------------------------------------------------------------


def _scorer() -> Callable[..., dict[str, float]]:
    spec = importlib.util.spec_from_file_location("score", SHARED / "eval" / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score  # type: ignore[no-any-return]


def rows(qrels: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The queries of each reported row: all of them, then each query type's."""
    out = {"all": qrels}
    for kind in sorted({q.get("type", "") for q in qrels} - {""}):
        out[kind] = [q for q in qrels if q.get("type") == kind]
    return out


def per_type(qrels: list[dict[str, Any]], runs: dict[str, list[str]]) -> dict[str, float]:
    score = _scorer()
    return {row: round(score(queries, runs)["ndcg@10"], 4)
            for row, queries in rows(qrels).items()}


def per_query(qrels: list[dict[str, Any]], runs: dict[str, list[str]]) -> np.ndarray:
    """Each query's nDCG@10, in the order of `qrels`."""
    score = _scorer()
    return np.array([score([q], runs)["ndcg@10"] for q in qrels])


def paired_randomization(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value that systems scoring `a` and `b` on the same queries differ in mean.

    Fisher's randomization test, as Smucker, Allan and Carterette recommend it for IR ("A
    Comparison of Statistical Significance Tests for Information Retrieval Evaluation", CIKM
    2007): under the null hypothesis each query's two scores could have come from either
    system, so scipy flips the pairs at random (all of them for up to 14 queries) and compares
    the observed mean difference with theirs.
    """
    if np.array_equal(a, b):
        return 1.0
    found = stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=20_000, alternative="two-sided", random_state=0)
    return float(found.pvalue)


PLAIN = ("plain_bm25", "plain_minilm", "plain_rrf")


def significance(qrels: list[dict[str, Any]], runs: dict[str, dict[str, list[str]]],
                 ) -> dict[str, dict[str, Any]]:
    """For each row: hybrid against the row's best plain baseline, and words only against
    plain BM25, as the difference in nDCG@10 and its `paired_randomization` p-value."""
    score = _scorer()
    pairs = [("hybrid", "paperboy_hybrid", None), ("words", "paperboy_lexical", "plain_bm25")]
    out: dict[str, dict[str, Any]] = {}
    for row, queries in rows(qrels).items():
        out[row] = {}
        for label, ours, theirs in pairs:
            if ours not in runs:
                continue
            if theirs is None:
                theirs = max((p for p in PLAIN if p in runs),
                             key=lambda p: score(queries, runs[p])["ndcg@10"])
            a, b = per_query(queries, runs[ours]), per_query(queries, runs[theirs])
            out[row][label] = {"against": theirs, "diff": round(float(a.mean() - b.mean()), 4),
                               "p": round(paired_randomization(a, b), 3)}
    return out


def evaluate(records: list[dict[str, str]], service: Paperboy, embedder: CachedEmbedder | None,
             qrels: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    titles = [r["title"] for r in records]
    bm25 = PlainBM25(records)
    minilm = PlainMiniLM(records, embedder) if embedder is not None else None
    modes = ["lexical"] + (["semantic", "hybrid"] if embedder is not None else [])
    result: dict[str, Any] = {}
    for name, queries in qrels.items():
        runs: dict[str, dict[str, list[str]]] = {}
        for q in queries:
            text = q["query"]
            b = bm25.search(text, PLAIN_DEPTH)
            runs.setdefault("plain_bm25", {})[text] = [titles[i] for i in b[:10]]
            if minilm is not None:
                m = minilm.search(text, PLAIN_DEPTH)
                runs.setdefault("plain_minilm", {})[text] = [titles[i] for i in m[:10]]
                runs.setdefault("plain_rrf", {})[text] = [titles[i] for i in plain_rrf(b, m)[:10]]
            for mode in modes:
                hits = service.search(text, limit=10, mode=mode).hits  # type: ignore[arg-type]
                runs.setdefault(f"paperboy_{mode}", {})[text] = [h.title for h in hits]
        result[name] = {system: per_type(queries, run) for system, run in runs.items()}
        result[name]["significance"] = significance(queries, runs)
    return result


def _service(home: Path, embedder: CachedEmbedder | None, *, rerank: int = 0) -> Paperboy:
    settings = Settings.load(env={}, home=home, database_url="",
                             embedding_model=embedder.name if embedder else "hashing-8",
                             rerank_candidates=rerank)
    return Paperboy(settings, embedder=embedder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-corpus", action="store_true", help="the listing only")
    parser.add_argument("--words-only", action="store_true", help="no model")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache")
    parser.add_argument("--rerank", type=int, default=0, metavar="N",
                        help="rerank_candidates for Paperboy's searches (default 0: off)")
    args = parser.parse_args()
    qrels = {name: json.loads((SHARED / "eval" / f"{name}_qrels.json").read_text())
             for name in QUERY_SETS}
    embedder = None
    if not args.words_only:
        from paperboy.embed.sentence import DEFAULT_MODEL, SentenceTransformerEmbedder

        embedder = CachedEmbedder(lambda: SentenceTransformerEmbedder(DEFAULT_MODEL),
                                  DEFAULT_MODEL, args.cache / f"{DEFAULT_MODEL}.npz")
    listing = listing_records()
    out: dict[str, Any] = {"model": embedder.name if embedder else None, "rerank": args.rerank}
    stages = [("listing", listing, [SHARED / "corpus" / "listing_kernel_search.txt"])]
    if not args.no_corpus:
        stages.append(("with_33k", listing + corpus_records(),
                       [SHARED / "corpus" / "listing_kernel_search.txt",
                        SHARED / "corpus" / "arxiv_33k.jsonl.gz"]))
    for stage, records, sources in stages:
        with tempfile.TemporaryDirectory() as tmp:
            service = _service(Path(tmp) / "home", embedder, rerank=args.rerank)
            try:
                service.ingest([str(s) for s in sources])
                if embedder is not None:
                    service.embed()
                    embedder.save()
                out[stage] = {"papers": service.stats()["papers"],
                              **evaluate(records, service, embedder, qrels)}
            finally:
                service.close()
    if embedder is not None:
        embedder.save()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
