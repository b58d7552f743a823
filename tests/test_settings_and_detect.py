"""Settings are documented and validated; formats are told from content."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, LISTING

from paperboy.ingest.files import PARSERS
from paperboy.settings import SETTINGS, Settings
from paperboy.sources.detect import FORMATS, UnknownFormatError, detect

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented_with_its_default() -> None:
    docs = DOCS.read_text()
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default != "" else "(empty)"
        assert f"| `{setting.env}` | {default} |" in docs, setting.env


def test_environment_then_explicit_overrides(tmp_path: Path) -> None:
    env = {"PAPERBOY_HOME": str(tmp_path / "env"), "PAPERBOY_INGEST_BATCH_SIZE": "50"}
    assert Settings.load(env).home == tmp_path / "env"
    assert Settings.load(env).ingest_batch_size == 50
    assert Settings.load(env, home=tmp_path / "flag").home == tmp_path / "flag"
    assert Settings.load(env).store_url == f"sqlite:///{tmp_path / 'env' / 'paperboy.sqlite3'}"


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="PAPERBOY_HTTP_RETRIES='many'"):
        Settings.load({"PAPERBOY_HTTP_RETRIES": "many"})


def test_every_format_has_a_parser() -> None:
    assert set(PARSERS) == set(FORMATS)


@pytest.mark.parametrize(("name", "expected"), [
    ("arxiv_api_query.xml", "arxiv_api"), ("arxiv_api_query_legacy.xml", "arxiv_api"),
    ("arxiv_api_error.xml", "arxiv_api"), ("arxiv_api_empty.xml", "arxiv_api"),
    ("arxiv_oai_listrecords.xml", "oai"), ("arxiv_oai_listrecords_arXiv_prefix.xml", "oai"),
    ("arxiv_oai_error_badResumptionToken.xml", "oai"), ("arxiv_rss.xml", "arxiv_rss"),
    ("arxiv_kaggle_snapshot.jsonl", "kaggle"), ("hf_daily_papers.json", "hf_daily"),
    ("s2_paper_batch.json", "s2"), ("s2_paper_search.json", "s2"),
    ("s2_paper_get_title_only.json", "s2"),
])
def test_each_fixture_is_detected(name: str, expected: str) -> None:
    assert detect((FIXTURES / name).read_bytes()) == expected


def test_listing_is_detected_from_a_cut_off_head() -> None:
    assert detect(LISTING.read_bytes()[:5000]) == "listing"


@pytest.mark.parametrize("data", [
    b"", b"a,b,c\n1,2,3\n", b"<html><body>503</body></html>", b'{"hello": "world"}',
    b"\x89PNG\r\n\x1a\n\x00\x00", b"[1, 2, 3]", b"# README\n\nShort lines.\n",
])
def test_other_content_is_refused_with_the_accepted_formats(data: bytes) -> None:
    with pytest.raises(UnknownFormatError, match="Accepted: arXiv API Atom feed"):
        detect(data, name="x")
