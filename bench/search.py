"""Search latency and memory at scale: N generated papers, real query encoder.

    python bench/search.py --papers 100000 [--queries 300] [--keep DIR]

Builds a home with N papers (texts drawn from the 33k real arXiv papers in ../shared/corpus,
each with a unique id, a category, a date and sometimes a code link), the tantivy index from the
store, and the HNSW index from random unit vectors standing in for document embeddings. Then a
child process (so build memory is not counted) opens what a serving process opens, including
the real all-MiniLM-L6-v2 query encoder (`--backend`: torch, or ONNX Runtime as `auto` picks on
a CPU), and times each query: the query embedding, a bare
tantivy query, a bare HNSW query, and Paperboy's lexical, semantic and hybrid search. Prints one
JSON object with p50/p95/p99 in milliseconds, build times and the serving process' peak RSS.

Before timing, the child reads the files only Paperboy's searches read with system calls once
(`page_cache`: the store, and the exact vectors that rank the graph's candidates), as a server
that has run a while has them in the page cache: a bare query reads only the index, while
Paperboy's also reads the store's rows for the page, and in a fresh process those came from disk
for whichever mode touched a paper first (words only at 200k: 13.7 ms with a third of the store
cached, 6.7 ms with all of it, against a bare query's 2.3). Reading a file maps nothing, so
this adds nothing to the serving RSS; the memory-mapped word index is left as it was, as the
kernel maps cached pages around each one touched (at 1M, reading it too added 100 MB of
file-backed RSS).

`--memory-limit MB` runs the serving child in a memory cgroup of that size (cgroup v2's
`memory.max`, or v1's `memory.limit_in_bytes`; it needs root): a box with that much memory.
Most of a serving process' RSS is clean file pages of the memory-mapped indexes, which the
kernel drops and reads again under pressure, so whether a limit is enough shows in the
latencies measured inside it, beside the cgroup's own peak (`cgroup_peak_mb`) and how often
it hit the limit (`cgroup_limit_hits`).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.index.hybrid import Searcher  # noqa: E402
from paperboy.index.lexical import LexicalIndex  # noqa: E402
from paperboy.index.sync import sync_lexical  # noqa: E402
from paperboy.index.vectors import HnswIndex  # noqa: E402
from paperboy.models import Links, PaperRecord, Version  # noqa: E402
from paperboy.progress import Silent  # noqa: E402
from paperboy.store import Store  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "arxiv_33k.jsonl.gz"
QRELS = ROOT.parent / "shared" / "eval" / "dev_qrels.json"
MODEL = "all-MiniLM-L6-v2"
DIM = 384
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.IR", "cs.NE", "math.OC"]
DEPTH = 100  # candidates each retriever returns inside hybrid search


def records(papers: int, seed: int = 7):  # type: ignore[no-untyped-def]
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        base = [json.loads(line) for line in f]
    rng = random.Random(seed)
    start = datetime(2018, 1, 1, tzinfo=UTC)
    for n in range(papers):
        row = base[n % len(base)]
        round_ = n // len(base)
        title = row["title"] if not round_ else f"{row['title']} (part {round_ + 1})"
        arxiv_id = f"{1801 + n // 99999:04d}.{n % 99999:05d}"
        day = start + timedelta(days=rng.randrange(3000))
        yield PaperRecord(
            source="kaggle", position=f"paper {n}", title=title, arxiv_id=arxiv_id,
            abstract=row.get("abstract") or "", authors=[a.strip() for a in (
                row.get("authors") or "").split(",")[:6] if a.strip()],
            categories=[rng.choice(CATEGORIES)], published=day, updated=day,
            versions=[Version("v1", day)],
            links=Links(code=[f"https://github.com/x/{arxiv_id}"] if rng.random() < 0.2 else []))


def store_papers(store: Store, papers: int) -> None:
    """Write the generated papers, 2,000 a transaction; a kept store that has them is reused."""
    if store.counts()["papers"] == papers:
        return
    batch: list[PaperRecord] = []
    now = datetime.now(UTC)
    for record in records(papers):
        batch.append(record)
        if len(batch) == 2000:
            with store.transaction() as conn:
                store.write(conn, batch, now)
            batch = []
    if batch:
        with store.transaction() as conn:
            store.write(conn, batch, now)


def build(home: Path, papers: int) -> dict[str, float]:
    store = Store.open(f"sqlite:///{home / 'paperboy.sqlite3'}")
    started = time.perf_counter()
    store_papers(store, papers)
    store_s = time.perf_counter() - started
    shutil.rmtree(home / "index", ignore_errors=True)
    lexical_s = build_words(home, store)
    vector_s = build_vectors(home, store)
    store.close()
    return {"store_s": round(store_s, 1), "lexical_build_s": round(lexical_s, 1),
            "vector_build_s": round(vector_s, 1),
            "index_build_s": round(lexical_s + vector_s, 1)}


def build_words(home: Path, store: Store) -> float:
    started = time.perf_counter()
    lexical = LexicalIndex.open(home / "index" / "lexical")
    sync_lexical(store, lexical, Silent())
    lexical.close()
    return time.perf_counter() - started


def build_vectors(home: Path, store: Store) -> float:
    """Random unit vectors for every stored paper (the same ones each time)."""
    started = time.perf_counter()
    shutil.rmtree(home / "index" / "vectors", ignore_errors=True)
    vectors = HnswIndex.open(home / "index" / "vectors", model=MODEL, dim=DIM)
    rng = np.random.default_rng(7)
    ids = [r["id"] for batch in store.changed_since(None, batch=20_000) for r in batch]
    for first in range(0, len(ids), 20_000):
        chunk = rng.standard_normal((len(ids[first:first + 20_000]), DIM), dtype=np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        vectors.add(ids[first:first + 20_000], chunk)
    vectors.save()
    vectors.close()
    return time.perf_counter() - started


def rebuild_stale(home: Path) -> dict[str, float]:
    """A kept home's indexes rebuilt where an older schema wrote them (opening one then
    leaves it empty); {} when both are current."""
    store = Store.open(f"sqlite:///{home / 'paperboy.sqlite3'}")
    lexical = LexicalIndex.open(home / "index" / "lexical")
    vectors = HnswIndex.open(home / "index" / "vectors", model=MODEL, dim=DIM)
    stale_words, stale_vectors = lexical.rebuilt_fresh, vectors.rebuilt_fresh
    lexical.close()
    vectors.close()  # the graph it loaded is let go before a new one is built
    rebuilt = {}
    if stale_words:
        rebuilt["lexical_build_s"] = round(build_words(home, store), 1)
    if stale_vectors:
        rebuilt["vector_build_s"] = round(build_vectors(home, store), 1)
    store.close()
    return rebuilt


def queries(count: int) -> list[str]:
    found = [q["query"] for q in json.loads(QRELS.read_text())]
    rng = random.Random(11)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        titles = [json.loads(line)["title"] for _, line in zip(range(5000), f, strict=False)]
    while len(found) < count:
        words = titles[rng.randrange(len(titles))].split()
        size = rng.randint(2, 5)
        at = rng.randrange(max(1, len(words) - size))
        found.append(" ".join(words[at:at + size]))
    return found[:count]


def serve(home: Path, count: int, backend: str) -> dict[str, object]:
    from paperboy.embed.loader import load_embedder
    from paperboy.index.lexical import parse_user_query

    cached = page_cache(home)
    store = Store.open(f"sqlite:///{home / 'paperboy.sqlite3'}")
    lexical = LexicalIndex.open(home / "index" / "lexical", texts=store.texts)
    vectors = HnswIndex.open(home / "index" / "vectors", model=MODEL, dim=DIM)
    embedder = load_embedder(MODEL, device="cpu", backend=backend)
    forget = getattr(embedder, "_cache", {}).clear  # each search embeds its query afresh
    papers = store.counts()["papers"]
    searcher = Searcher(store, lexical, lambda: vectors, lambda: embedder,
                        paper_count=lambda: papers)
    tantivy_index = lexical._index  # the bare engine, for the raw baseline
    raw_usearch = vectors._index
    timings: dict[str, list[float]] = {name: [] for name in (
        "embed", "raw_tantivy", "raw_hnsw", "lexical", "semantic", "hybrid")}

    def timed(name: str, call):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        value = call()
        timings[name].append((time.perf_counter() - started) * 1000)
        return value

    texts = queries(count)
    for text in texts[:10]:  # warm up caches and the model
        searcher.search(text)
        timings = {name: [] for name in timings}
    for text in texts:
        vector = timed("embed", lambda t=text: embedder.embed([t])[0])
        bare = " ".join(parse_user_query(text).terms) or "x"
        tantivy_searcher = tantivy_index.searcher()
        timed("raw_tantivy", lambda q=bare, s=tantivy_searcher: s.search(
            tantivy_index.parse_query(q, ["title", "abstract"]), DEPTH))
        timed("raw_hnsw", lambda v=vector: raw_usearch.search(v, DEPTH))
        timed("lexical", lambda t=text: searcher.search(t, mode="lexical"))
        forget()
        timed("semantic", lambda t=text: searcher.search(t, mode="semantic"))
        forget()
        timed("hybrid", lambda t=text: searcher.search(t, mode="hybrid"))
    result: dict[str, object] = {
        name: {f"p{p}": round(float(np.percentile(values, p)), 2) for p in (50, 95, 99)}
        for name, values in timings.items()}
    raw = sum(result[n]["p50"] for n in ("embed", "raw_tantivy", "raw_hnsw"))  # type: ignore[index]
    result["hybrid_p50_over_raw_sum"] = round(result["hybrid"]["p50"] / raw, 2)  # type: ignore[index]
    result["queries"] = len(texts)
    result["page_cache_read"] = cached
    result["embedding_backend"] = getattr(embedder, "backend", "torch")
    # ru_maxrss survives exec: after a build it would be the building parent's peak
    result["serve_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result.update(_rss_split())
    return result


def page_cache(home: Path) -> dict[str, float]:
    """Read the store and the exact vectors once (see the module docstring); what was read,
    and how long it took."""
    started, size = time.perf_counter(), 0
    for path in [*sorted(home.glob("paperboy.sqlite3*")), home / "index" / "vectors" / "exact.f16"]:
        if path.is_file():
            with path.open("rb", buffering=0) as f:
                while chunk := f.read(8 << 20):
                    size += len(chunk)
    return {"mb": round(size / 2**20, 1), "s": round(time.perf_counter() - started, 1)}


def _rss_split() -> dict[str, float]:
    """The serving process' peak resident memory, and at the end anonymous (the heap, the
    graph, the model) and file-backed (the word index's memory-mapped files), where Linux
    tells (VmHWM is this process' own: ru_maxrss carries a parent's peak across exec)."""
    fields = {"VmHWM": "serve_peak_rss_mb", "RssAnon": "serve_rss_anon_mb",
              "RssFile": "serve_rss_file_mb"}
    found = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in fields:
                found[fields[name]] = round(int(value.split()[0]) / 1024, 1)
    return found


class MemoryLimit:
    """A memory cgroup of `mb` megabytes for one child process; see the module docstring."""

    V2, V1 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")

    def __init__(self, mb: int) -> None:
        name = f"paperboy-bench-{os.getpid()}"
        if (self.V2 / "cgroup.controllers").exists():
            self.path, limit, self.peak, self.hits = self.V2 / name, "memory.max", \
                "memory.peak", "memory.events"
        elif self.V1.is_dir():
            self.path, limit, self.peak, self.hits = self.V1 / name, \
                "memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt"
        else:
            raise SystemExit("--memory-limit: this machine has no memory cgroup "
                             "(/sys/fs/cgroup)")
        try:
            self.path.mkdir()
            (self.path / limit).write_text(str(mb << 20))
        except OSError as error:
            raise SystemExit(f"--memory-limit: cannot make a memory cgroup at {self.path} "
                             f"({error.strerror}; it needs root)") from None
        self.mb = mb

    def wrap(self, command: list[str]) -> list[str]:
        """`command` run from a shell that first moves itself into the cgroup (no preexec_fn:
        the parent has threads)."""
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"),
                *command]

    def report(self) -> dict[str, object]:
        found: dict[str, object] = {"memory_limit_mb": self.mb}
        with contextlib.suppress(OSError, ValueError):
            found["cgroup_peak_mb"] = round(int((self.path / self.peak).read_text()) / 2**20, 1)
        with contextlib.suppress(OSError, ValueError):
            text = (self.path / self.hits).read_text().split()
            # v1: a count; v2: "low N high N max N oom N ...", the times it reached the limit
            found["cgroup_limit_hits"] = int(text[0]) if len(text) == 1 else \
                int(text[text.index("max") + 1])
            if "oom_kill" in text:
                found["cgroup_oom_kills"] = int(text[text.index("oom_kill") + 1])
        return found

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    parser.add_argument("--backend", default="auto",
                        help="what runs the query encoder: auto, torch, onnx or onnx-int8")
    parser.add_argument("--memory-limit", type=int, metavar="MB",
                        help="serve inside a memory cgroup of this many MB (root)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args.queries, args.backend)))
        return
    temporary = None if args.keep else tempfile.TemporaryDirectory(prefix="paperboy-search-")
    home = args.keep or Path(temporary.name)  # type: ignore[union-attr]
    home.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"benchmark": "search", "papers": args.papers}
    if not (home / "index" / "vectors" / "meta.json").exists():
        result.update(build(home, args.papers))
        result["build_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    else:
        result.update(rebuild_stale(home))
    limit = MemoryLimit(args.memory_limit) if args.memory_limit else None
    try:
        command = [sys.executable, __file__, "--serve", str(home), "--queries",
                   str(args.queries), "--backend", args.backend]
        child = subprocess.run(limit.wrap(command) if limit else command,
                               capture_output=True, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if limit:
            result.update(limit.report())
    finally:
        if limit:
            limit.remove()
    if child.returncode != 0:
        raise SystemExit(f"the serving child exited with {child.returncode}"
                         f"{' (killed: out of memory?)' if child.returncode < 0 else ''}:\n"
                         f"{child.stderr[-3000:]}")
    result.update(json.loads(child.stdout.strip().splitlines()[-1]))
    print(json.dumps(result))
    if temporary:
        temporary.cleanup()


if __name__ == "__main__":
    main()
