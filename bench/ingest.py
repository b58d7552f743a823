"""Ingest speed and memory: a generated Kaggle-format file of N papers into a fresh SQLite store.

    python bench/ingest.py --papers 200000 [--double]

Paper texts are drawn from the 33k real arXiv papers in ../shared/corpus (so lengths and
characters are realistic), each with a unique id and title. `paperboy ingest` runs as a child
process; its wall time, peak RSS and peak anonymous memory are measured (RSS also counts the
word index's files that tantivy maps while it merges segments). With --double the same is done
for a file twice as large, to show memory does not grow with the input. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "arxiv_33k.jsonl.gz"


def generate(path: Path, papers: int, corpus: Path) -> None:
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        base = [json.loads(line) for line in f]
    with path.open("w", encoding="utf-8") as out:
        for n in range(papers):
            record = dict(base[n % len(base)])
            round_ = n // len(base)
            record["id"] = f"{2001 + n // 100000:04d}.{n % 100000:05d}"
            if round_:
                record["title"] = f"{record['title']} (part {round_ + 1})"
            record["versions"] = record.get("versions") or [
                {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]
            out.write(json.dumps(record) + "\n")


def ingest(path: Path, home: Path) -> dict[str, float]:
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "paperboy", "--home", str(home), "ingest",
                              str(path), "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env={**os.environ,
                                                             "PAPERBOY_DATABASE_URL": ""})
    anon = _AnonPeak(child.pid)
    output = child.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    anon.stop()
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"ingest failed with status {status}: {output[-2000:]!r}")
    (summary,) = json.loads(output)
    return {"papers": summary["added"], "seconds": round(seconds, 2),
            "papers_per_s": round(summary["added"] / seconds),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "peak_anon_mb": round(anon.peak_kb / 1024, 1),
            "file_mb": round(path.stat().st_size / 2**20, 1)}


class _AnonPeak(threading.Thread):
    """The child's peak anonymous memory (RSS counts the index files it maps, too)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(0.2):
            try:
                with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                    anon = next(int(line.split()[1]) for line in f if line.startswith("RssAnon"))
            except (OSError, StopIteration):
                continue
            self.peak_kb = max(self.peak_kb, anon)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=200_000)
    parser.add_argument("--double", action="store_true", help="also ingest a file twice as big")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "ingest", "store": "sqlite"}
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        for label, count in [("single", args.papers)] + (
                [("double", 2 * args.papers)] if args.double else []):
            path = Path(tmp) / f"{label}.jsonl"
            generate(path, count, args.corpus)
            result[label] = ingest(path, Path(tmp) / f"home-{label}")
            path.unlink()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
