"""Trending speed: each window's top 100 over N papers and M signal events, in SQLite.

    python bench/trending.py --papers 1000000 --events 10000000 [--keep DIR]

Papers are published uniformly over the last two years; events (40% local votes with some
withdrawn, 30% Hugging Face upvote counts, 30% star snapshots) fall on 20% of them, dated
uniformly over the last 120 days, with gains as the store computes them. The data is written
straight into a migrated store (generating it is not what is measured); then each window's top
100 is computed through the service, as `paperboy trending` does, cold and warm (the cache of
computed lists emptied before each), then served 50 times from that cache as page views are
(`served_ms_p50`: the newest-event lookup that keeps it current, and the copy). Then a reader
votes and the views go on (`after_a_vote_*`): how fast they are served while the new list is
computed in the background, and how long until it is served; and `/trending` and
`/api/trending` through the web app (`http_ms_p50`). Prints JSON.
With --keep the store is kept in DIR and reused by later runs with the same sizes.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from paperboy.service import Paperboy
from paperboy.settings import Settings
from paperboy.signals.trending import WINDOWS
from paperboy.store.signals import micros

NOW = datetime(2026, 11, 28, tzinfo=UTC)
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.OC", "physics.comp-ph"]


def generate(home: Path, papers: int, events: int) -> None:
    service = Paperboy(Settings.load(env={}, home=home, database_url=""))
    service.store.close()  # migrated; now write the rows directly, fast
    service.close()
    db = sqlite3.connect(home / "paperboy.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = random.Random(7)
    start = time.perf_counter()
    two_years = 730 * 86_400
    rows = []
    for n in range(papers):
        published = NOW - timedelta(seconds=rng.randrange(two_years))
        stamp = published.strftime("%Y-%m-%d %H:%M:%S.%f")
        category = CATEGORIES[n % len(CATEGORIES)]
        rows.append((f"p{n:07d}", f"paper {n}", f"Paper number {n}", "", "[]",
                     json.dumps([category]), category, stamp, "[]",
                     '{"abstract": null, "pdf": null, "code": [], "project": null}',
                     "{}", "{}", "[]", stamp, stamp))
        if len(rows) == 100_000:
            _insert_papers(db, rows)
            rows = []
    _insert_papers(db, rows)
    active = [f"p{n:07d}" for n in rng.sample(range(papers), papers // 5)]
    window_us = 120 * 86_400 * 1_000_000
    end = micros(NOW)
    batch = []
    for n in range(events):
        paper = active[n % len(active)]
        dated = end - rng.randrange(window_us)
        roll = rng.random()
        if roll < 0.4:
            withdrawn = rng.random() < 0.05
            batch.append((paper, "vote", f"r{n}", dated, dated, 1, 1))
            if withdrawn:
                batch.append((paper, "vote", f"r{n}", dated + 3_600_000_000, dated, -1, -1))
        elif roll < 0.7:
            batch.append((paper, "hf_upvotes", "", dated, dated, rng.randrange(1, 300),
                          rng.randrange(0, 20)))
        else:
            batch.append((paper, "stars", "o/r", dated, dated, rng.randrange(10, 50_000),
                          rng.randrange(-2, 60)))
        if len(batch) >= 200_000:
            _insert_events(db, batch)
            batch = []
    _insert_events(db, batch)
    db.execute("ANALYZE")
    db.close()
    print(f"generated in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def _insert_papers(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO papers (id, title_key, title, abstract, authors, categories, "
        "primary_category, published, versions, links, extras, field_sources, sources, "
        "first_seen, last_changed, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)", rows)
    db.commit()


def _insert_events(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    # the same paper can draw two events at one microsecond: keep the first, as the store would
    db.executemany("INSERT OR IGNORE INTO signal_events (paper_id, kind, key, at, dated, value, "
                   "gain) VALUES (?,?,?,?,?,?,?)", rows)
    db.commit()


def _http(home: Path) -> dict[str, float]:
    """p50 of `/trending` and `/api/trending` through the web app (in process, by Starlette's
    TestClient: the routing, the rendering and the JSON, not a socket), lists computed once."""
    from fastapi.testclient import TestClient

    from paperboy.clock import FixedClock
    from paperboy.web.app import create_app

    service = Paperboy(Settings.load(env={}, home=home, database_url=""), clock=FixedClock(NOW))
    found: dict[str, float] = {}
    with TestClient(create_app(service, base_url="http://localhost")) as client:
        for window in WINDOWS:
            for path in (f"/api/trending?window={window}", f"/trending?window={window}"):
                assert client.get(path).status_code == 200, path
                timings = []
                for _ in range(50):
                    started = time.perf_counter()
                    client.get(path)
                    timings.append(time.perf_counter() - started)
                timings.sort()
                found[path] = round(1000 * timings[len(timings) // 2], 2)
    service.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the store in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        home = args.keep or Path(tmp)
        marker = home / f"bench-{args.papers}-{args.events}"
        if not marker.exists():
            generate(home, args.papers, args.events)
            marker.touch()
        service = Paperboy(Settings.load(env={}, home=home, database_url=""))
        stored = service.store.signals.count()
        result: dict[str, object] = {"benchmark": "trending", "store": "sqlite",
                                     "papers": args.papers, "events": stored}
        for window in WINDOWS:
            timings = []
            for _ in range(2):  # cold (first touch of the pages), then warm
                service._trending.clear()  # noqa: SLF001 - compute, not serve
                started = time.perf_counter()
                top = service.trending(window=window, limit=100, now=NOW)
                timings.append(round(time.perf_counter() - started, 3))
            served = []
            for _ in range(50):
                started = time.perf_counter()
                service.trending(window=window, limit=20, now=NOW)
                served.append(time.perf_counter() - started)
            served.sort()
            # a reader votes: views go on being served the kept list while one thread computes
            # the new one (signals/cache.py), until it replaces the kept one
            voted = time.perf_counter()
            service.store.signals.vote(f"bench-{time.time_ns()}", top[-1].id,
                                       NOW - timedelta(minutes=1))
            after_vote = []
            while True:
                started = time.perf_counter()
                listed = service.trending(window=window, limit=100, now=NOW, stale_ok=True)
                after_vote.append(time.perf_counter() - started)
                if listed != top or time.perf_counter() - voted > 60:
                    break
                time.sleep(0.005)
            after_vote.sort()
            result[window] = {"cold_s": timings[0], "warm_s": timings[1], "listed": len(top),
                              "served_ms_p50": round(1000 * served[len(served) // 2], 3),
                              "after_a_vote_served_ms_p50":
                                  round(1000 * after_vote[len(after_vote) // 2], 3),
                              "after_a_vote_served_ms_max": round(1000 * after_vote[-1], 3),
                              "after_a_vote_new_list_s": round(time.perf_counter() - voted, 2)}
        result["http_ms_p50"] = _http(home)
        service.close()
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
