"""`kill -9` in the middle of a large ingest, then the same ingest again: the same store."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

from conftest import SHARED

PAPERS = 12_000


def _ingest(home: Path, source: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_INGEST_BATCH_SIZE": "200"}
    return subprocess.Popen([sys.executable, "-m", "paperboy", "--home", str(home), "ingest",
                             str(source)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _count(home: Path) -> int:
    try:
        with sqlite3.connect(home / "paperboy.sqlite3", timeout=10) as db:
            return db.execute("SELECT count(*) FROM papers").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _content(home: Path) -> list[tuple]:
    """Every paper's stored content, without the times at which it was stored."""
    with sqlite3.connect(home / "paperboy.sqlite3") as db:
        rows = db.execute("SELECT * FROM papers ORDER BY id").fetchall()
        columns = [c[1] for c in db.execute("PRAGMA table_info(papers)")]
        state = db.execute("SELECT count(*) FROM harvest_state").fetchone()[0]
    assert state == 0, "a finished ingest leaves no checkpoint behind"
    content = []
    for row in rows:
        paper = dict(zip(columns, row, strict=True))
        del paper["first_seen"], paper["last_changed"]
        paper["sources"] = sorted(json.loads(paper["sources"]))
        paper["field_sources"] = {k: (v["source"], v["version"])
                                  for k, v in json.loads(paper["field_sources"]).items()}
        content.append(tuple(paper.values()))
    return content


def test_kill_9_mid_ingest_then_rerun_gives_the_same_store(tmp_path: Path) -> None:
    source = tmp_path / "snapshot.jsonl"
    with gzip.open(SHARED / "corpus" / "arxiv_33k.jsonl.gz", "rb") as corpus:
        source.write_bytes(b"".join(islice(corpus, PAPERS)))

    killed = tmp_path / "killed"
    child = _ingest(killed, source)
    deadline = time.monotonic() + 120
    while _count(killed) < 1000 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the ingest finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    stored = _count(killed)
    assert 0 < stored < PAPERS

    rerun = _ingest(killed, source)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert b"resuming" in stderr

    clean = tmp_path / "clean"
    whole = _ingest(clean, source)
    whole.communicate(timeout=300)
    assert whole.returncode == 0

    assert _count(killed) == _count(clean)
    assert _content(killed) == _content(clean)
