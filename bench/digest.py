"""Digest speed: compose (and render) the digests of R readers over a store of N papers.

    python bench/digest.py --papers 1000000 --new 3000 --readers 10000 [--keep DIR]
        [--old-vectors K] [--blas-threads N] [--profile]

The target: 10,000 readers with 5 follows each over 1,000,000 papers in under 2 minutes,
sending excluded. Paper texts, authors and categories are drawn from the 33k real arXiv papers
in ../shared/corpus (each paper with a unique id, and a "(part k)" title past the first 33k).
Most papers were first seen over the last two years; the newest `--new` (about an arXiv day)
in the last 24 hours, and those get vectors (`HashingEmbedder(dim=384)` over `paper_text`,
model "hashing-384"); with `--old-vectors K`, K older papers get random unit vectors too, as in
a store where every paper has been embedded (the edition then reads them all).

Each reader follows 5 things: topics (2-3 consecutive words of a real title, half of them from
the new papers, embedded with the same embedder), categories and authors (mostly of the new
papers). 10% of readers have a library of 3-5 older papers and upvoted up to 8 of the papers
trending today (so the per-reader linear model runs; their votes make the trending list), 2%
dismissed a new paper, and every reader has the last 7 days' digest records (some naming
papers trending today). Most readers' last digest was the previous run, a day ago; some
never had one, some missed a few days. The data is written straight into a migrated store by a
child process (generating it is not what is measured, nor is its memory).

Then, in one process: the day's trending list through the service, the `Composer` (the
`Edition`) built once, and every reader's digest composed and rendered to HTML and text. Prints
one JSON object: times, readers/s, digest contents, the peak RSS and the time 10,000 readers
would take at this run's cost per reader (what `within_target` judges for smaller runs). With
--keep the store is kept in DIR and reused by later runs with the same sizes. --blas-threads
limits the threads of numpy's BLAS while measuring (each reader's matrix products are small,
and idle BLAS threads spin on a busy machine). With --profile, the compose loop is run again
under cProfile and the top functions are printed to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import multiprocessing
import pstats
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.digest.render import render  # noqa: E402
from paperboy.digest.run import Composer  # noqa: E402
from paperboy.embed import HashingEmbedder, paper_text  # noqa: E402
from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.sources._text import title_key  # noqa: E402
from paperboy.store.signals import micros  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "arxiv_33k.jsonl.gz"
NOW = datetime(2026, 11, 28, 7, tzinfo=UTC)
DAY = timedelta(days=1)
EMBEDDER = HashingEmbedder(dim=384)
FOLLOWS_PER_READER = 5
TARGET_S = 120.0
_STAMP = "%Y-%m-%d %H:%M:%S.%f"
_AUTHOR_SPLIT = re.compile(r",\s*|\s+and\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
_STOP = frozenset("and are for from its the this that with into via using towards based "
                  "their our not can".split())


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP)


def _paper_id(n: int) -> str:
    """An arXiv-like id, unique per n (99,999 papers a month from January 2018)."""
    month = n // 99_999
    return f"{18 + month // 12:02d}{1 + month % 12:02d}.{n % 99_999 + 1:05d}"


def _authors(row: dict[str, Any]) -> list[str]:
    return [a.strip() for a in _AUTHOR_SPLIT.split(row.get("authors") or "") if a.strip()][:12]


def _phrase(title: str, rng: random.Random) -> str | None:
    """2-3 consecutive words of a title, as a reader would type a topic."""
    words = [w for w in _WORD.findall(title) if w.lower() not in _STOP]
    if len(words) < 2:
        return None
    size = min(len(words), rng.choice((2, 2, 3)))
    start = rng.randrange(len(words) - size + 1)
    return " ".join(words[start:start + size]).lower()


def generate(home: Path, papers: int, new: int, readers: int, old_vectors: int,
             corpus: Path) -> None:
    service = Paperboy(Settings.load(env={}, home=home, database_url=""))
    service.store.close()  # migrated; now write the rows directly, fast
    service.close()
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        base = [json.loads(line) for line in f]
    db = sqlite3.connect(home / "paperboy.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = random.Random(7)
    started = time.perf_counter()
    new = min(new, papers)
    first_new = papers - new
    two_years = 729 * 86_400

    def record(n: int) -> dict[str, Any]:
        row = base[n % len(base)]
        round_ = n // len(base)
        title = " ".join(row["title"].split())
        return {"id": _paper_id(n), "title": f"{title} (part {round_ + 1})" if round_ else title,
                "abstract": " ".join((row.get("abstract") or "").split()),
                "authors": _authors(row),
                "categories": (row.get("categories") or "cs.LG").split()}

    rows = []
    for n in range(papers):
        paper = record(n)
        if n >= first_new:
            seen = NOW - timedelta(seconds=rng.uniform(0, 86_399))
        else:
            seen = NOW - DAY - timedelta(seconds=rng.uniform(0, two_years))
        published = _stamp(seen - timedelta(hours=rng.uniform(0, 48)))
        links = {"abstract": f"https://arxiv.org/abs/{paper['id']}",
                 "pdf": f"https://arxiv.org/pdf/{paper['id']}", "code": [], "project": None}
        stamp = _stamp(seen)
        rows.append((paper["id"], paper["id"], title_key(paper["title"]), paper["title"],
                     paper["abstract"], json.dumps(paper["authors"]),
                     json.dumps(paper["categories"]), paper["categories"][0], published, "[]",
                     json.dumps(links), "{}", "{}", "[]", stamp, stamp))
        if len(rows) == 50_000:
            _insert_papers(db, rows)
            rows = []
    _insert_papers(db, rows)

    fresh = [record(n) for n in range(first_new, papers)]
    _insert_vectors(db, [p["id"] for p in fresh], EMBEDDER.embed([paper_text(p) for p in fresh]))
    pool_size = min(first_new, max(50, readers // 10 * 2))
    pool = [record(n) for n in rng.sample(range(first_new), pool_size)]
    _insert_vectors(db, [p["id"] for p in pool], EMBEDDER.embed([paper_text(p) for p in pool]))
    pool_ids = {p["id"] for p in pool}
    others = [n for n in rng.sample(range(first_new), min(first_new, old_vectors + pool_size))
              if _paper_id(n) not in pool_ids][:old_vectors]
    vector_rng = np.random.default_rng(7)
    for start in range(0, len(others), 50_000):
        part = vector_rng.standard_normal((len(others[start:start + 50_000]), 384),
                                          dtype=np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        _insert_vectors(db, [_paper_id(n) for n in others[start:start + 50_000]], part)

    # trending today: what the library readers upvoted, among some new papers and some older
    # ones (which earlier digests may already have sent, so "sent before" filters them)
    hot_old = [_paper_id(n) for n in rng.sample(range(first_new), min(first_new, 100))]
    hot = [p["id"] for p in rng.sample(fresh, min(len(fresh), 200))] + hot_old
    _insert_readers(db, readers, fresh, base, pool, hot, hot_old, first_new, rng)
    db.execute("ANALYZE")
    db.commit()
    db.close()
    print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _insert_readers(db: sqlite3.Connection, readers: int, fresh: list[dict[str, Any]],
                    base: list[dict[str, Any]], pool: list[dict[str, Any]], hot: list[str],
                    hot_old: list[str], first_new: int, rng: random.Random) -> None:
    created = _stamp(NOW - timedelta(days=90))
    previous_runs = [NOW - DAY - timedelta(hours=h) for h in range(1, 49)]
    fresh_authors = [a for p in fresh for a in p["authors"]]
    all_authors = [a for row in base for a in _authors(row)]
    reader_rows, follow_rows, library_rows, dismissal_rows, digest_rows = [], [], [], [], []
    vote_rows, events = [], []
    topics: list[tuple[int, str]] = []
    for reader_id in range(1, readers + 1):
        roll = rng.random()
        last = (None if roll < 0.1 else _stamp(NOW - DAY) if roll < 0.9
                else _stamp(rng.choice(previous_runs)))
        reader_rows.append((reader_id, f"reader{reader_id}@example.org", "active", created,
                            created, 7, "UTC", last, 0))
        chosen: set[tuple[str, str]] = set()
        while len(chosen) < FOLLOWS_PER_READER:
            kind = rng.choices(("query", "category", "author"), weights=(45, 20, 35))[0]
            if kind == "query":
                source = rng.choice(fresh) if rng.random() < 0.5 else rng.choice(base)
                value = _phrase(source["title"], rng)
            elif kind == "category":
                value = rng.choice((rng.choice(base).get("categories") or "cs.LG").split())
            else:
                value = (rng.choice(fresh_authors) if rng.random() < 0.7 and fresh_authors
                         else rng.choice(all_authors))
            if value:
                chosen.add((kind, value))
        for kind, value in sorted(chosen):
            follow_rows.append((reader_id, kind, value, "{}", None, created))
            if kind == "query":
                topics.append((len(follow_rows) - 1, value))
        if rng.random() < 0.1:
            for paper in rng.sample(pool, min(len(pool), rng.randint(3, 5))):
                library_rows.append((reader_id, paper["id"], created))
            for paper_id in rng.sample(hot, min(len(hot), rng.randint(0, 8))):
                voted = NOW - timedelta(seconds=rng.uniform(0, 20 * 3600))
                vote_rows.append((f"reader:{reader_id}", paper_id, _stamp(voted)))
                events.append((paper_id, "vote", f"reader:{reader_id}", micros(voted),
                               micros(voted), 1, 1))
        if rng.random() < 0.02:
            dismissal_rows.append((reader_id, rng.choice(fresh)["id"], created))
        for back in range(1, 8):
            sent = [_paper_id(rng.randrange(first_new)) for _ in range(8)]
            if back == 1 and rng.random() < 0.3:
                sent += rng.sample(hot_old, min(len(hot_old), 3))
            digest_day = (NOW - back * DAY).date().isoformat()
            at = _stamp(NOW - back * DAY)
            digest_rows.append((reader_id, digest_day, "sent", at, at, json.dumps(sent)))
    vectors = EMBEDDER.embed([value for _, value in topics])
    for (row, _), vector in zip(topics, vectors, strict=True):
        follow_rows[row] = (*follow_rows[row][:4], vector.tobytes(), follow_rows[row][5])
    db.executemany("INSERT INTO readers (id, email, status, created_at, confirmed_at, "
                   "digest_hour, timezone, last_digest_at, bounces, link_uses, feed_generation) "
                   "VALUES (?,?,?,?,?,?,?,?,?,0,0)",
                   reader_rows)
    db.executemany("INSERT INTO follows (reader_id, kind, value, filters, vector, created_at) "
                   "VALUES (?,?,?,?,?,?)", follow_rows)
    db.executemany("INSERT INTO library (reader_id, collection, paper_id, added_at) "
                   "VALUES (?,'Library',?,?)",
                   library_rows)
    db.executemany("INSERT INTO votes (reader, paper_id, voted_at) VALUES (?,?,?)", vote_rows)
    db.executemany("INSERT INTO signal_events (paper_id, kind, key, at, dated, value, gain) "
                   "VALUES (?,?,?,?,?,?,?)", events)
    db.executemany("INSERT INTO dismissals (reader_id, paper_id, at) VALUES (?,?,?)",
                   dismissal_rows)
    db.executemany("INSERT INTO digests (reader_id, day, status, created_at, sent_at, papers) "
                   "VALUES (?,?,?,?,?,?)", digest_rows)
    db.commit()


def _insert_papers(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO papers (id, arxiv_id, title_key, title, abstract, authors, categories, "
        "primary_category, published, versions, links, extras, field_sources, sources, "
        "first_seen, last_changed, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)", rows)
    db.commit()


def _insert_vectors(db: sqlite3.Connection, ids: list[str], matrix: np.ndarray) -> None:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    created = _stamp(NOW)
    db.executemany("INSERT INTO embeddings (paper_id, model, dim, vector, created_at) "
                   "VALUES (?,?,?,?,?)", [(paper_id, EMBEDDER.name, matrix.shape[1],
                                           matrix[i].tobytes(), created)
                                          for i, paper_id in enumerate(ids)])
    db.commit()


def measure(home: Path, profile: bool) -> dict[str, Any]:
    service = Paperboy(Settings.load(env={}, home=home, database_url=""))
    store = service.store
    started = time.perf_counter()
    trending = (service.trending(window="day", now=NOW, limit=20)
                or service.trending(window="week", now=NOW, limit=20))
    trending_s = time.perf_counter() - started
    started = time.perf_counter()
    readers = store.readers.all(status="active")
    readers_s = time.perf_counter() - started
    started = time.perf_counter()
    composer = Composer(store, model=EMBEDDER.name, trending=trending, readers=readers, now=NOW)
    edition_s = time.perf_counter() - started
    edition = composer.edition
    links = service.links()
    day = NOW.date().isoformat()
    library_readers = _library_readers(home)
    compose_ms: dict[bool, list[float]] = {False: [], True: []}
    render_s = 0.0
    cpu = time.process_time()
    sections = {"followed": 0, "recommended": 0, "trending": 0}
    with_followed = with_new = items = html_bytes = 0
    for reader in readers:
        started = time.perf_counter()
        digest = composer.compose(reader, day)
        composed = time.perf_counter()
        html, text = render(digest, base_url=service.base_url,
                            unsubscribe_url=links.url("unsubscribe", reader["id"]))
        render_s += time.perf_counter() - composed
        compose_ms[reader["id"] in library_readers].append((composed - started) * 1000)
        counts = {name: len(digest.section(name)) for name in sections}
        for name, found in counts.items():
            sections[name] += found
        with_followed += counts["followed"] > 0
        with_new += digest.new > 0
        items += len(digest.items)
        html_bytes += len(html) + len(text)
    loop_cpu_s = time.process_time() - cpu
    everyone = compose_ms[False] + compose_ms[True]
    compose_s = sum(everyone) / 1000
    count = max(1, len(readers))
    result: dict[str, Any] = {
        "benchmark": "digest", "store": "sqlite",
        "papers": store.counts()["papers"], "readers": len(readers),
        "follows": sum(len(f) for f in composer.follows.values()),
        "library_readers": len(library_readers),
        "vectors": f"{EMBEDDER!r} over paper_text for the new papers and the libraries' papers, "
                   "over the topic for query follows; random unit vectors for --old-vectors",
        "vectors_stored": store.embeddings.count(EMBEDDER.name),
        "edition": {"papers": len(edition.papers), "with_vectors": len(edition.vector_ids),
                    "stems": len(edition.stems)},
        "trending_s": round(trending_s, 3),
        "load_readers_s": round(readers_s, 3),
        "edition_s": round(edition_s, 3),
        "compose_s": round(compose_s, 3),
        "render_s": round(render_s, 3),
        "compose_render_s": round(compose_s + render_s, 3),
        # on a busy machine the wall times above are noisy; CPU time of the loop is less so
        "compose_render_cpu_s": round(loop_cpu_s, 3),
        "total_s": round(trending_s + readers_s + edition_s + compose_s + render_s, 3),
        "target_s": TARGET_S,
        "readers_per_s": round(len(readers) / max(compose_s + render_s, 1e-9), 1),
        "compose_ms": _spread(everyone),
        "compose_ms_no_library": _spread(compose_ms[False]),
        "compose_ms_library": _spread(compose_ms[True]),
        "render_ms_mean": round(render_s * 1000 / count, 3),
        "digests_with_followed": with_followed,
        "digests_with_new": with_new,
        "mean_items": round(items / count, 2),
        "mean_per_section": {k: round(v / count, 2) for k, v in sections.items()},
        "mean_email_kb": round(html_bytes / count / 1024, 1),
        # candidate matrices the edition keeps, one per distinct "new since" of the readers
        "cached_cuts": len(getattr(edition, "_candidates", ())),
    }
    # the target's size from this run's fixed costs and per-reader cost (for smaller runs)
    per_reader_s = (compose_s + render_s) / count
    result["per_reader_ms"] = round(per_reader_s * 1000, 3)
    result["projected_10000_readers_s"] = round(
        trending_s + readers_s + edition_s + per_reader_s * 10_000, 1)
    result["within_target"] = (result["total_s"] if len(readers) >= 10_000
                               else result["projected_10000_readers_s"]) < TARGET_S
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for reader in readers:
            composer.compose(reader, day)
        profiler.disable()
        print(f"cProfile of composing {len(readers)} digests again:", file=sys.stderr)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
    service.close()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _library_readers(home: Path) -> set[int]:
    db = sqlite3.connect(home / "paperboy.sqlite3")
    try:
        return {row[0] for row in db.execute("SELECT DISTINCT reader_id FROM library")}
    finally:
        db.close()


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "mean": round(statistics.fmean(values), 3),
            "p50": round(ordered[len(ordered) // 2], 3),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
            "max": round(ordered[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=3_000, help="papers first seen today")
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--old-vectors", type=int, default=0,
                        help="older papers that also have (random) vectors")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the store in this folder")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads while measuring (default 1, as `digest send` "
                             "composes; 0 leaves numpy's own)")
    parser.add_argument("--profile", action="store_true",
                        help="compose again under cProfile; top functions to stderr")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        home = args.keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        marker = home / (f"bench-digest-{args.papers}-{args.new}-{args.readers}-"
                         f"{args.old_vectors}")
        generated_s = None
        if not marker.exists():
            if (home / "paperboy.sqlite3").exists():
                raise SystemExit(f"{home} holds a store of other sizes: use another folder")
            started = time.perf_counter()
            # in a child process, so that its memory is not in the peak RSS measured here
            child = multiprocessing.get_context("fork").Process(target=generate, args=(
                home, args.papers, args.new, args.readers, args.old_vectors, args.corpus))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"generating the store failed (exit code {child.exitcode})")
            generated_s = round(time.perf_counter() - started, 1)
            marker.touch()
        with threadpool_limits(limits=args.blas_threads or None):
            blas = [{"library": pool["internal_api"], "threads": pool["num_threads"]}
                    for pool in threadpool_info()]
            result = measure(home, args.profile)
        result["blas"] = blas
        result["generated_s"] = generated_s
        print(json.dumps(result))


if __name__ == "__main__":
    main()
