"""`paperboy ingest`, `stats` and `demo` as a user runs them, on both databases."""

from __future__ import annotations

import json
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
    assert "381 papers" in result.stdout
    again = CliRunner().invoke(app, ["--home", str(home), "stats", "--json"],
                               env={"PAPERBOY_DATABASE_URL": "",
                                    "PAPERBOY_EMBEDDING_MODEL": "hashing-64"})
    assert json.loads(again.stdout) == {"papers": 381, "embedded": 381}
    assert LISTING.read_bytes() == (
        Path(__file__).resolve().parents[1] / "paperboy" / "data" / "demo_listing.txt"
    ).read_bytes()
