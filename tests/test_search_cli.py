"""`paperboy search`, `similar`, `embed` and `reindex` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import LISTING
from typer.testing import CliRunner

from paperboy.cli import app

ENV = {"PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    for args in (["ingest", str(LISTING)], ["embed"]):
        result = CliRunner().invoke(app, ["--home", str(home), *args], env=ENV)
        assert result.exit_code == 0, result.output
    return home


def run(home: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--home", str(home), *args], env=ENV, input=stdin)


def test_search_json_gives_hits_with_id_title_score_and_reasons(home: Path) -> None:
    result = run(home, "search", "sparse flash attention", "--json", "--limit", "5")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 5 and hits[0]["title"].startswith("AdaSplash")
    assert {"id", "title", "score", "matched_terms", "snippet", "similarity", "lexical_rank",
            "semantic_rank"} <= set(hits[0])


def test_search_table_says_why(home: Path) -> None:
    result = run(home, "search", "kernel thinning")
    assert result.exit_code == 0
    assert "Generalized Kernel Thinning" in result.stdout and "words #" in result.stdout


def test_search_stdin_answers_one_line_per_query(home: Path) -> None:
    result = run(home, "search", "-", "--json", "--mode", "semantic", "--limit", "3",
                 stdin="sparse flash attention\nkernel thinning\n\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip("\n").split("\n")
    assert len(lines) == 3
    first, second, blank = (json.loads(line) for line in lines)
    assert len(first) == len(second) == 3 and blank == []


def test_empty_query_is_a_message_not_an_error(home: Path) -> None:
    result = run(home, "search", "  ", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "Type some words" in result.stderr


def test_bad_mode_is_refused(home: Path) -> None:
    result = run(home, "search", "kernel", "--mode", "telepathy")
    assert result.exit_code == 2 and "hybrid" in result.output


def test_similar_json_and_unknown_id(home: Path) -> None:
    top = json.loads(run(home, "search", "Generalized Kernel Thinning", "--json").stdout)[0]
    result = run(home, "similar", top["id"], "--json", "--limit", "4")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert len(hits) == 4 and top["id"] not in {h["id"] for h in hits}
    missing = run(home, "similar", "2501.99999")
    assert missing.exit_code == 1 and "no paper with id '2501.99999'" in missing.stderr


def test_stats_counts_vectors_and_reindex_keeps_results(home: Path) -> None:
    assert json.loads(run(home, "stats", "--json").stdout) == {"papers": 194, "embedded": 194}
    before = run(home, "search", "kernel methods", "--json").stdout
    result = run(home, "reindex")
    assert result.exit_code == 0 and "194 papers by words and 194 by vector" in result.stdout
    assert run(home, "search", "kernel methods", "--json").stdout == before


def _vectors(home: Path) -> dict[str, np.ndarray]:
    with sqlite3.connect(home / "paperboy.sqlite3") as db:
        return {pid: np.frombuffer(blob, dtype=np.float32)
                for pid, blob in db.execute("SELECT paper_id, vector FROM embeddings")}


def test_embed_killed_with_sigkill_resumes_to_the_same_vectors(tmp_path: Path) -> None:
    """With the real model (slow enough on a CPU to be killed halfway)."""
    env = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBED_BATCH_SIZE": "16",
           "HF_HUB_OFFLINE": "1"}
    env.pop("PAPERBOY_EMBEDDING_MODEL", None)
    homes = {name: tmp_path / name for name in ("killed", "clean")}
    for home in homes.values():
        subprocess.run([sys.executable, "-m", "paperboy", "--home", str(home), "ingest",
                        str(LISTING)], env=env, check=True, capture_output=True)
    child = subprocess.Popen([sys.executable, "-m", "paperboy", "--home",
                              str(homes["killed"]), "embed"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(_vectors(homes["killed"])) < 32 and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert child.poll() is None, "embed finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 0 < len(_vectors(homes["killed"])) < 194
    for home in homes.values():
        subprocess.run([sys.executable, "-m", "paperboy", "--home", str(home), "embed"],
                       env=env, check=True, capture_output=True)
    killed, clean = _vectors(homes["killed"]), _vectors(homes["clean"])
    assert killed.keys() == clean.keys() and len(killed) == 194
    assert all(np.allclose(killed[k], clean[k], atol=1e-4) for k in killed)
    stats = subprocess.run([sys.executable, "-m", "paperboy", "--home", str(homes["killed"]),
                            "search", "sparse flash attention", "--json", "--mode", "semantic"],
                           env=env, check=True, capture_output=True, text=True)
    assert json.loads(stats.stdout)[0]["title"].startswith("AdaSplash")
    assert b"no vector" not in stats.stderr.encode()


@pytest.mark.parametrize("command", [["search", "kernel"], ["similar", "2206.00001"],
                                     ["embed"], ["reindex"], ["serve", "--port", "0"]])
def test_milvus_configured_without_pymilvus_is_one_line_from_every_command(
        home: Path, command: list[str]) -> None:
    hidden = "import sys; sys.modules['pymilvus'] = None; from paperboy.cli import app; app()"
    env = {**os.environ, **ENV, "PAPERBOY_MILVUS_URI": str(home / "milvus.db")}
    done = subprocess.run([sys.executable, "-c", hidden, "--home", str(home), *command],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: PAPERBOY_MILVUS_URI is set but pymilvus is not installed: "
        "pip install 'paperboy[milvus]'")
