"""The Kaggle arXiv snapshot parser on the recorded snapshot lines and the 33k-paper corpus."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SHARED

from paperboy.models import PaperRecord, RecordError
from paperboy.sources import kaggle
from paperboy.sources._text import parse_date

SNAPSHOT = SHARED / "fixtures" / "arxiv_kaggle_snapshot.jsonl"
CORPUS = SHARED / "corpus" / "arxiv_33k.jsonl.gz"


def records(data: bytes) -> list[PaperRecord]:
    out = list(kaggle.parse(data))
    assert all(isinstance(r, PaperRecord) for r in out), [str(r) for r in out]
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def snapshot() -> list[PaperRecord]:
    return records(SNAPSHOT.read_bytes())


def line_of(arxiv_id: str) -> dict:
    for line in SNAPSHOT.read_bytes().splitlines():
        obj = json.loads(line)
        if obj["id"] == arxiv_id:
            return obj
    raise KeyError(arxiv_id)


def test_snapshot_yields_every_paper_in_file_order(snapshot: list[PaperRecord]) -> None:
    assert [r.arxiv_id for r in snapshot] == [f"0704.{n:04d}" for n in range(1, 37)]
    assert [r.position for r in snapshot[:3]] == ["line 1", "line 2", "line 3"]
    assert {r.source for r in snapshot} == {"kaggle"}


def test_first_paper_field_by_field(snapshot: list[PaperRecord]) -> None:
    r = snapshot[0]
    # The title is hard-wrapped in the snapshot ("...Tevatron and\n  LHC energies").
    assert r.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert r.abstract.startswith("A fully differential calculation in perturbative quantum")
    assert r.abstract.endswith("can be obtained with judicious selection of events.")
    assert "\n" not in r.abstract and "  " not in r.abstract
    # authors_parsed has the accent decoded; the raw string still says "Bal\'azs".
    assert r.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert r.categories == ["hep-ph"]
    assert r.doi == "10.1103/physrevd.76.013009"
    assert r.journal_ref == "Phys.Rev.D76:013009,2007"
    assert r.comments == "37 pages, 15 figures; published version"
    assert r.license is None
    assert [v.label for v in r.versions] == ["v1", "v2"]
    assert r.versions[0].date == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert r.versions[1].date == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert r.version == 2
    assert r.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert r.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert r.links.abstract == "https://arxiv.org/abs/0704.0001"
    assert r.links.pdf == "https://arxiv.org/pdf/0704.0001"
    assert r.links.code == [] and r.links.project is None
    assert r.extras == {
        "kaggle": {
            "submitter": "Pavel Nadolsky",
            "report_no": "ANL-HEP-PR-07-12",
            "update_date": "2008-11-26",
        }
    }


def test_categories_keep_primary_first_and_license_is_kept(snapshot: list[PaperRecord]) -> None:
    r = snapshot[1]
    assert r.title == "Sparsity-certifying Graph Decompositions"
    assert r.categories == ["math.CO", "cs.CG"]
    assert r.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert r.doi is None and r.journal_ref is None
    assert r.authors == ["Ileana Streinu", "Louis Theran"]
    # None values are left out of extras rather than stored as nulls.
    assert r.extras == {"kaggle": {"submitter": "Louis Theran", "update_date": "2008-12-13"}}
    assert snapshot[20].categories == ["nlin.PS", "physics.chem-ph", "q-bio.MN"]


def test_authors_come_from_authors_parsed_without_affiliations(snapshot: list[PaperRecord]) -> None:
    by_id = {r.arxiv_id: r for r in snapshot}
    # The raw string nests affiliations: "A. S. Mishchenko (1 and 2) and N. Nagaosa (1 and 3)
    # ((1) CREST, ...)"; the parsed form carries them as a 4th element, which is dropped.
    assert by_id["0704.0025"].authors == ["A. S. Mishchenko", "N. Nagaosa"]
    assert by_id["0704.0031"].authors == ["V. M. Biryukov"]
    # A collaboration has no forenames; "et al" in the raw string is not an author.
    assert by_id["0704.0020"].authors == ["The BABAR Collaboration", "B. Aubert"]
    assert by_id["0704.0027"].authors == [
        "M. O. Goerbig", "J.-N. Fuchs", "K. Kechedzhi", "Vladimir I. Fal'ko"
    ]
    assert by_id["0704.0030"].authors == ["J. P. Hague", "N. d'Ambrumenil"]
    assert by_id["0704.0026"].authors == ["Robert P. C. de Marrais"]


def test_versions_published_and_updated(snapshot: list[PaperRecord]) -> None:
    r = {x.arxiv_id: x for x in snapshot}["0704.0027"]
    assert [v.label for v in r.versions] == ["v1", "v2", "v3", "v4"]
    assert r.version == 4
    assert r.published == datetime(2007, 4, 2, 19, 17, 14, tzinfo=UTC)
    assert r.updated == datetime(2009, 9, 24, 12, 40, 18, tzinfo=UTC)
    single = {x.arxiv_id: x for x in snapshot}["0704.0004"]
    assert single.version == 1 and single.published == single.updated


def test_version_dates_agree_with_the_general_date_parser(snapshot: list[PaperRecord]) -> None:
    # The parser reads the snapshot's date format itself for speed; it must not drift from
    # what parse_date makes of the same text.
    for line in SNAPSHOT.read_bytes().splitlines():
        obj = json.loads(line)
        rec = next(r for r in snapshot if r.arxiv_id == obj["id"])
        assert [v.date for v in rec.versions] == [parse_date(v["created"]) for v in obj["versions"]]


def test_multi_doi_and_wrapped_journal_ref(snapshot: list[PaperRecord]) -> None:
    r = {x.arxiv_id: x for x in snapshot}["0704.0033"]
    # "doi": "10.1364/JOSAA.23.002578 10.1364/JOSAA.32.002407": the first, lower-cased.
    assert r.doi == "10.1364/josaa.23.002578"
    assert r.journal_ref == (
        "J.Opt.Soc.Am.A 23, 2578-2591 (2006); Erratum: J.Opt.Soc.Am.A 32, 2407-2408 (2015)"
    )
    assert r.license == "http://creativecommons.org/licenses/by-nc-nd/4.0/"
    assert r.comments is not None and "\n" not in r.comments


def test_latex_title_is_kept_verbatim(snapshot: list[PaperRecord]) -> None:
    assert snapshot[4].title == r"From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"


def test_code_and_project_links_from_abstract_and_comments() -> None:
    obj = line_of("0704.0002")
    obj["abstract"] += " Code: https://github.com/example/pebbles.git."
    obj["comments"] = "Project page: https://example.org/pebbles and https://gitlab.com/a/b"
    (r,) = records(json.dumps(obj).encode())
    assert r.links.code == ["https://github.com/example/pebbles", "https://gitlab.com/a/b"]
    assert r.links.project == "https://example.org/pebbles"


def test_old_style_id_and_missing_versions_use_update_date() -> None:
    line = json.dumps({
        "id": "hep-th/9901001", "title": "Old", "authors": "A. Author and B. Author",
        "authors_parsed": None, "versions": [], "update_date": "2001-02-03", "categories": None,
    }).encode()
    (r,) = records(line)
    assert r.arxiv_id == "hep-th/9901001"
    assert r.links.abstract == "https://arxiv.org/abs/hep-th/9901001"
    assert r.authors == ["A. Author", "B. Author"]  # split_authors fallback
    assert r.published is None  # the update day says nothing about first submission
    assert r.updated == datetime(2001, 2, 3, tzinfo=UTC)
    assert r.categories == [] and r.versions == []


def test_truncated_line_is_reported_and_the_rest_still_parsed() -> None:
    lines = SNAPSHOT.read_bytes().splitlines(keepends=True)
    lines[9] = lines[9][: len(lines[9]) // 2] + b"\n"  # line 10 cut mid-abstract
    out = list(kaggle.parse(b"".join(lines)))
    errors = [r for r in out if isinstance(r, RecordError)]
    assert len(out) == 36 and len(errors) == 1
    assert errors[0].position == "line 10"
    assert str(errors[0]).startswith("line 10: invalid JSON (")
    assert errors[0].source == "kaggle"
    ids = [r.arxiv_id for r in out if isinstance(r, PaperRecord)]
    assert "0704.0010" not in ids and ids[9:11] == ["0704.0011", "0704.0012"]
    assert out[10].position == "line 11"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'"0704.0001"', "expected a JSON object, got str"),
        (b"null", "expected a JSON object, got null"),
        (b'{"title": "No id"}', "missing id"),
        (b'{"id": "", "title": "Empty id"}', "missing id"),
        (b'{"id": 704.001, "title": "Spreadsheet id"}', "id is not a string: 704.001"),
        (b'{"id": "not-an-id", "title": "T"}', "not an arXiv id: 'not-an-id'"),
        (b'{"id": "0704.0001"}', "missing title (0704.0001)"),
        (b'{"id": "0704.0001", "title": "  \\n "}', "missing title (0704.0001)"),
        (b'{"id": "0704.0001", "title": "caf\xe9"}', "invalid UTF-8 at byte 33 of the line"),
    ],
)
def test_bad_lines_become_errors_and_parsing_continues(line: bytes, message: str) -> None:
    good = json.dumps(line_of("0704.0004")).encode()
    out = list(kaggle.parse(good + b"\n" + line + b"\n" + good))
    assert isinstance(out[0], PaperRecord) and isinstance(out[2], PaperRecord)
    assert isinstance(out[1], RecordError)
    assert str(out[1]) == f"line 2: {message}"
    assert out[2].position == "line 3"


def test_blank_lines_are_skipped_but_counted() -> None:
    good = json.dumps(line_of("0704.0004")).encode()
    out = records(b"\n" + good + b"\r\n   \n\n" + good + b"\n\n")
    assert [r.position for r in out] == ["line 2", "line 5"]


def test_parse_lines_numbers_from_first_line_and_streams() -> None:
    lines = SNAPSHOT.read_bytes().splitlines(keepends=True)

    def feed() -> Iterator[bytes]:
        yield lines[20]
        yield lines[21]
        raise AssertionError("the parser read ahead of what was asked")

    out = kaggle.parse_lines(feed(), first_line=21)
    first, second = next(out), next(out)
    assert isinstance(first, PaperRecord) and isinstance(second, PaperRecord)
    assert (first.position, first.arxiv_id) == ("line 21", "0704.0021")
    assert (second.position, second.arxiv_id) == ("line 22", "0704.0022")


def test_parse_lines_reads_a_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "part.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(SNAPSHOT.read_bytes())
    with gzip.open(path, "rb") as f:
        out = list(kaggle.parse_lines(f))
    assert len(out) == 36 and all(isinstance(r, PaperRecord) for r in out)


def test_corpus_33k_parses_without_errors() -> None:
    with gzip.open(CORPUS, "rb") as f:
        out = list(kaggle.parse_lines(f))
    errors = [str(r) for r in out if isinstance(r, RecordError)]
    assert errors == []
    assert len(out) == 33216
    first = out[0]
    assert isinstance(first, PaperRecord)
    assert first.arxiv_id == "2503.11930"
    assert first.title == "Generating a Biometrically Unique and Realistic Iris Database"
    # authors_parsed is null in this corpus: names come from the raw string, in order.
    assert first.authors == [
        "Jingxuan Zhang", "Robert J. Hart", "Ziqian Bi", "Shiaofen Fang", "Susan Walsh"
    ]
    assert first.categories == ["cs.CV", "cs.LG"]
    assert first.versions == [] and first.published is None
    assert first.updated == datetime(2025, 3, 18, tzinfo=UTC)
    assert first.extras == {"kaggle": {"update_date": "2025-03-18"}}
    old = out[28727]  # line 28728: an old-style id with neither categories nor update_date
    assert isinstance(old, PaperRecord)
    assert old.arxiv_id == "cmp-lg/9407007" and old.position == "line 28728"
    assert old.categories == [] and old.updated is None and old.extras == {"kaggle": {}}
    assert old.title.startswith("GEMINI: A Natural Language System")


def test_a_line_nested_too_deeply_is_a_record_error_and_the_next_line_is_read() -> None:
    from paperboy.sources.kaggle import parse_lines

    good = json.dumps({"id": "2601.00001", "title": "A paper", "abstract": "Text."}).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    items = list(parse_lines([deep + b"\n", good + b"\n"], first_line=1))
    assert isinstance(items[0], RecordError) and items[0].position == "line 1"
    assert "nested too deeply" in items[0].message
    assert isinstance(items[1], PaperRecord) and items[1].arxiv_id == "2601.00001"
