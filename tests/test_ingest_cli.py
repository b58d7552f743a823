"""`paperboy ingest`, `stats` and `demo` as a user runs them, on both databases."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, LISTING, PAPER_FIXTURES
from sqlalchemy import text
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.store import Store


@pytest.fixture
def run(tmp_path: Path, database_url: str):
    home = tmp_path / "home"

    def invoke(*args: str):
        return CliRunner().invoke(app, ["--home", str(home), *args],
                                  env={"PAPERBOY_DATABASE_URL": database_url,
                                       "COLUMNS": "200"})

    invoke.home = home  # type: ignore[attr-defined]
    return invoke


def _stats(run) -> dict[str, int]:
    result = run("stats", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _snapshot(database_url: str) -> list[tuple]:
    store = Store.open(database_url)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM papers ORDER BY id")).all()
        rows += conn.execute(text("SELECT * FROM harvest_state ORDER BY key")).all()
    store.close()
    return [tuple(r) for r in rows]


def test_ingest_prints_a_summary_per_source_and_stats_counts(run) -> None:
    result = run("ingest", *map(str, PAPER_FIXTURES), "--json")
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    by_file = {Path(s["source"]).name: s for s in summaries}
    assert by_file["arxiv_kaggle_snapshot.jsonl"]["added"] == 36
    assert by_file["listing_kernel_search.txt"]["format"] == "listing"
    assert sum(s["added"] for s in summaries) == 278
    assert _stats(run) == {"papers": 278, "embedded": 0}

    table = run("ingest", *map(str, PAPER_FIXTURES))
    assert table.exit_code == 0
    for word in ("added", "updated", "unchanged", "failed", "hf_daily_papers.json"):
        assert word in table.stdout
    assert _stats(run)["papers"] == 278


def test_error_feed_is_reported_as_an_error_not_a_paper(run) -> None:
    result = run("ingest", str(FIXTURES / "arxiv_api_error.xml"),
                 str(FIXTURES / "arxiv_api_empty.xml"), "--json")
    assert result.exit_code == 1
    error, empty = json.loads(result.stdout)
    assert error["failed"] == 1 and error["added"] == 0
    assert "incorrect id format for abc" in error["errors"][0]
    assert empty == {**empty, "added": 0, "failed": 0}
    assert _stats(run)["papers"] == 0


def test_empty_feed_and_no_records_match_succeed(run) -> None:
    result = run("ingest", str(FIXTURES / "arxiv_api_empty.xml"),
                 str(FIXTURES / "arxiv_oai_error_noRecordsMatch.xml"))
    assert result.exit_code == 0, result.output


def test_malformed_records_are_reported_with_place_and_skipped(run, tmp_path: Path) -> None:
    lines = (FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:4]) + lines[4][:50] + b"\n" + b"".join(lines[5:]))
    no_title = tmp_path / "no_title.json"
    no_title.write_text(json.dumps([{"paperId": "abc", "title": ""},
                                    {"paperId": "def", "title": "A real title"}]))
    xml = (FIXTURES / "arxiv_api_query.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(xml[: xml.index(b"<entry>", xml.index(b"<entry>") + 10) + 200])

    result = run("ingest", str(broken), str(no_title), str(cut), "--json")
    assert result.exit_code == 1
    jsonl, titles, atom = json.loads(result.stdout)
    assert (jsonl["added"], jsonl["failed"]) == (35, 1)
    assert f"{broken}: line 5" in jsonl["errors"][0]
    assert (titles["added"], titles["failed"]) == (1, 1)
    assert "record 1" in titles["errors"][0] and "title" in titles["errors"][0]
    assert (atom["added"], atom["failed"]) == (1, 1)
    assert "line" in atom["errors"][0]
    assert _stats(run)["papers"] == 37
    assert "failed:" in result.stderr and "broken.jsonl: line 5" in result.stderr


def test_strict_stops_at_first_failure_and_leaves_the_store_as_before(
        run, tmp_path: Path, database_url: str) -> None:
    assert run("ingest", str(FIXTURES / "hf_daily_papers.json")).exit_code == 0
    before = _snapshot(database_url)
    lines = (FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:30]) + b'{"id": "0704.9999", "tit\n' + b"".join(lines[30:]))

    result = run("ingest", "--strict", str(FIXTURES / "arxiv_api_query.xml"), str(broken))
    assert result.exit_code == 1
    assert "line 31" in result.stderr and "strict" in result.stderr
    assert _snapshot(database_url) == before


def test_unknown_format_says_which_formats_are_accepted(run, tmp_path: Path) -> None:
    odd = tmp_path / "notes.csv"
    odd.write_text("a,b,c\n1,2,3\n")
    result = run("ingest", str(odd), "--json")
    assert result.exit_code == 1
    (summary,) = json.loads(result.stdout)
    message = summary["errors"][0]
    assert "notes.csv" in message and "not a format Paperboy reads" in message
    for accepted in ("arXiv API", "OAI-PMH", "Kaggle", "Hugging Face", "RSS", "Semantic Scholar",
                     "listing"):
        assert accepted in message


def test_missing_file_is_a_failure_naming_it(run, tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope.jsonl"), str(FIXTURES / "arxiv_rss.xml"))
    assert result.exit_code == 1
    assert "nope.jsonl: no such file" in result.stderr
    assert _stats(run)["papers"] == 3


@pytest.mark.parametrize("name, make, problem", [
    ("a-folder", lambda p: p.mkdir(), "is a folder, not a file"),
    ("a-fifo", lambda p: os.mkfifo(p), "is a FIFO, not a regular file"),
    ("empty.jsonl", lambda p: p.write_bytes(b""), "the file is empty"),
    ("corrupt.gz", lambda p: p.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03junk!"),
     "cannot read the gzip data"),
    ("deep.json", lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
     "not a format Paperboy reads"),
    ("deep-object.json", lambda p: p.write_text('{"a":' * 100_000 + "1" + "}" * 100_000),
     "not a format Paperboy reads"),
    ("truncated.jsonl.gz", lambda p: p.write_bytes(gzip.compress(
        (FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_bytes())[:2000]),
     "cannot read the gzip data"),
])
def test_every_bad_path_is_one_line_naming_the_file_and_the_store_keeps_its_papers(
        run, tmp_path: Path, name: str, make: Callable[[Path], object], problem: str) -> None:
    assert run("ingest", str(FIXTURES / "arxiv_rss.xml")).exit_code == 0
    bad = tmp_path / name
    make(bad)
    result = run("ingest", str(bad))
    assert result.exit_code == 1
    assert f"failed: {bad}: {problem}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert _stats(run)["papers"] == 3


def test_an_unreadable_file_is_named_with_the_reason(tmp_path: Path) -> None:
    """In a real process; as root, one without the power to read every file (setpriv)."""
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes((FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_bytes())
    secret.chmod(0o000)
    command = [sys.executable, "-m", "paperboy", "--home", str(tmp_path / "home"), "ingest",
               str(secret)]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "COLUMNS": "200", "PAPERBOY_DATABASE_URL": ""})
    assert result.returncode == 1, result.stderr
    assert f"failed: {secret}: permission denied" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source, says", [
    ("https://arxiv.org/abs/2401.00001", "URLs are not read directly"),
    ("foo:bar", "unknown source kind 'foo': use a file or one of arxiv:, oai:, hf:, rss:, s2:"),
])
def test_a_url_or_an_unknown_kind_lists_the_accepted_kinds(run, source: str, says: str) -> None:
    result = run("ingest", source)
    assert result.exit_code == 1
    assert f"failed: {source}: {says}" in " ".join(result.stderr.split())


def test_home_goes_before_or_after_the_command_and_readers_refuse_a_missing_one(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"COLUMNS": "200", "PAPERBOY_DATABASE_URL": ""}
    after = CliRunner().invoke(app, ["ingest", str(FIXTURES / "arxiv_rss.xml"), "--home",
                                     str(home)], env=env)
    assert after.exit_code == 0, after.output
    stats = CliRunner().invoke(app, ["stats", f"--home={home}", "--json"], env=env)
    assert json.loads(stats.stdout)["papers"] == 3
    typo = tmp_path / "hmoe"
    for command in (["stats"], ["search", "kernel"], ["trending"], ["serve"]):
        refused = CliRunner().invoke(app, [*command, "--home", str(typo)], env=env)
        assert refused.exit_code == 2, command
        assert f"no Paperboy store in {typo}" in " ".join(refused.stderr.split())
        assert not typo.exists()


def test_format_is_told_by_content_not_name(run, tmp_path: Path) -> None:
    disguised = tmp_path / "papers.txt"
    disguised.write_bytes((FIXTURES / "arxiv_oai_listrecords.xml").read_bytes())
    result = run("ingest", str(disguised), "--json")
    assert json.loads(result.stdout)[0]["format"] == "oai"


def test_gzipped_json_lines_are_read(run, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "snapshot.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "arxiv_kaggle_snapshot.jsonl").read_bytes()))
    result = run("ingest", str(packed), "--json")
    assert json.loads(result.stdout)[0]["added"] == 36


def test_demo_ingests_the_bundled_listing_and_shows_papers(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = CliRunner().invoke(app, ["--home", str(home), "demo", "--no-serve", "--limit", "5"],
                                env={"COLUMNS": "200", "PAPERBOY_DATABASE_URL": "",
                                     "PAPERBOY_EMBEDDING_MODEL": "hashing-64"})
    assert result.exit_code == 0, result.output
    assert "402 papers" in result.stdout
    again = CliRunner().invoke(app, ["--home", str(home), "stats", "--json"],
                               env={"PAPERBOY_DATABASE_URL": "",
                                    "PAPERBOY_EMBEDDING_MODEL": "hashing-64"})
    assert json.loads(again.stdout) == {"papers": 402, "embedded": 402}
    assert LISTING.read_bytes() == (
        Path(__file__).resolve().parents[1] / "paperboy" / "data" / "demo_listing.txt"
    ).read_bytes()


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paperboy", "demo", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "200", "PAPERBOY_HOME": "",
             "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": "hashing-64"})


def test_demo_on_a_busy_port_says_so_at_once_and_port_0_serves_then_cleans_up(
        tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        started = time.monotonic()
        refused = _demo(tmp_path, "--port", str(taken))
        _, stderr = refused.communicate(timeout=60)
        assert refused.returncode == 1
        assert time.monotonic() - started < 20  # before any ingest or embedding
        assert f"cannot listen on 127.0.0.1:{taken}: the port is in use" in stderr
        assert "Traceback" not in stderr

    demo = _demo(tmp_path, "--port", "0")
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if found := re.search(r"serving .* at (http://localhost:(\d+))", line):
                break
        else:
            raise AssertionError(demo.stderr.read() if demo.stderr else "no output")
        url, port = found.group(1), int(found.group(2))
        assert port not in (0, 8000)
        (home,) = tmp_path.glob("paperboy-demo-*")
        assert (home / "paperboy.sqlite3").exists()
        with urllib.request.urlopen(f"{url}/search?q=kernel", timeout=30) as page:
            assert page.status == 200 and "kernel" in page.read().decode().lower()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    assert not list(tmp_path.glob("paperboy-demo-*"))  # the temporary home went with it
