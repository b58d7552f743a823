"""The OAI-PMH parser on real arXiv ListRecords pages (arXivRaw and arXiv formats), OAI errors,
broken and hostile XML."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from conftest import FIXTURES

from paperboy.models import PaperRecord, RecordError, SourceError, Version
from paperboy.sources import oai


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def papers(data: bytes) -> list[PaperRecord]:
    records = oai.parse_page(data).records
    assert all(isinstance(r, PaperRecord) for r in records), records
    return records  # type: ignore[return-value]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def truncate_inside(data: bytes, marker: bytes, nth: int, into: int) -> bytes:
    """`data` cut `into` bytes after the start of the `nth` (1-based) occurrence of `marker`."""
    start = -1
    for _ in range(nth):
        start = data.index(marker, start + 1)
    return data[: start + into]


RAW = "arxiv_oai_listrecords.xml"
ARXIV = "arxiv_oai_listrecords_arXiv_prefix.xml"


# --- arXivRaw page ----------------------------------------------------------------------------


def test_arxivraw_page_harvest_state() -> None:
    page = oai.parse_page(fixture(RAW))
    assert len(page.records) == 6
    assert page.resumption_token == "726959|1001"
    assert page.cursor == 0
    assert page.complete_list_size == 58011
    assert page.response_date == utc(2015, 1, 6, 20, 49, 59)
    # The largest datestamp is on the second record, not the last one.
    assert page.max_datestamp == date(2014, 12, 22)


def test_arxivraw_ids_and_sources() -> None:
    recs = papers(fixture(RAW))
    assert [r.arxiv_id for r in recs] == [
        "0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586",
    ]  # fmt: skip
    assert {r.source for r in recs} == {"oai_arxivraw"}
    assert [r.position for r in recs][:2] == ["record 1 (line 6)", "record 2 (line 32)"]


def test_arxivraw_first_record_field_by_field() -> None:
    rec = papers(fixture(RAW))[0]
    assert rec.title == (
        "Density dependence of the symmetry energy and the nuclear equation of state: "
        "A Dynamical and Statistical model perspective"
    )
    # "A, B, and C" in one string.
    assert rec.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]
    assert rec.categories == ["nucl-ex", "nucl-th"]
    # Two DOIs separated by a space: the first one is the paper's.
    assert rec.doi == "10.1103/physrevc.76.024606"
    assert rec.journal_ref == "Phys.Rev.C76:024606,2007; Erratum-ibid.C76:039902,2007"
    assert rec.comments == "16 pages, 14 figures"
    assert rec.license is None
    assert rec.versions == [Version("v1", utc(2007, 4, 3, 22, 4, 11))]
    assert rec.published == rec.updated == utc(2007, 4, 3, 22, 4, 11)
    assert rec.abstract.startswith("The density dependence of the symmetry energy")
    assert 'extremely " stiff " and " soft " form' in rec.abstract
    assert "\n" not in rec.abstract
    assert rec.extras == {
        "oai": {
            "datestamp": "2014-11-18",
            "sets": ["physics:nucl-ex", "physics:nucl-th"],
            "submitter": "Dinesh Shetty",
        }
    }
    assert rec.links.abstract == "https://arxiv.org/abs/0704.0471"
    assert rec.links.pdf == "https://arxiv.org/pdf/0704.0471"


def test_arxivraw_four_versions_give_published_and_updated() -> None:
    rec = papers(fixture(RAW))[1]
    assert rec.arxiv_id == "0704.0716"
    assert [v.label for v in rec.versions] == ["v1", "v2", "v3", "v4"]
    assert rec.versions[1] == Version("v2", utc(2007, 9, 28, 15, 13, 43))
    assert rec.version == 4
    assert rec.published == utc(2007, 4, 5, 12, 45, 3)
    assert rec.updated == utc(2008, 11, 14, 9, 7, 25)
    assert rec.categories == ["math-ph", "math.MP"]
    assert rec.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert rec.journal_ref == (
        "Polygons, polyominoes and polycubes, 247-299, Lecture Notes in Phys., 775, Springer, "
        "Dordrecht, 2009"
    )
    assert rec.comments == (
        "54 pages, 2 figures; v2 updated and slightly expanded; v3 changes in some proofs; "
        "v4 slightly expanded"
    )
    assert rec.doi is None
    assert rec.extras["oai"]["sets"] == ["math", "physics:math-ph"]


def test_arxivraw_authors_joined_by_and_and_last_record() -> None:
    recs = papers(fixture(RAW))
    assert recs[3].authors == ["Valeria M. Rosa", "Patricio S. letelier"]
    assert recs[3].versions[-1] == Version("v2", utc(2008, 1, 29, 20, 15, 1))
    last = recs[-1]
    assert last.arxiv_id == "0704.1586"
    assert last.title == (
        "Core excitation in the elastic scattering and breakup of $^{11}$Be on protons"
    )
    assert last.authors == ["N.C. Summers", "F.M. Nunes"]
    assert last.doi == "10.1103/physrevc.76.014611"
    assert last.extras["oai"]["submitter"] == "Neil Summers"


# --- arXiv page -------------------------------------------------------------------------------


def test_arxiv_prefix_page_has_no_token() -> None:
    page = oai.parse_page(fixture(ARXIV))
    assert len(page.records) == 3
    assert page.resumption_token is None
    assert page.cursor is None and page.complete_list_size is None
    assert page.response_date == utc(2017, 12, 14, 12, 56, 31)
    assert page.max_datestamp == date(2017, 12, 14)


def test_arxiv_prefix_records_field_by_field() -> None:
    first, second, third = papers(fixture(ARXIV))
    assert {first.source, second.source, third.source} == {"oai_arxiv"}

    assert first.arxiv_id == "1412.8323"
    assert first.title == (
        "Toolbox for reconstructing quantum theory from rules on information acquisition"
    )
    assert first.authors == ["Philipp A Hoehn"]
    assert first.categories == [
        "quant-ph", "gr-qc", "hep-th", "math-ph", "math.MP", "physics.hist-ph",
    ]  # fmt: skip
    assert first.published == utc(2014, 12, 29)
    assert first.updated == utc(2017, 12, 13)
    assert first.versions == [Version("v1", utc(2014, 12, 29))]
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert first.doi is None and first.journal_ref is None
    assert first.comments is not None and first.comments.startswith("78 pages, many figures")
    assert first.extras == {"oai": {"datestamp": "2017-12-14", "sets": ["physics:hep-th"]}}

    assert second.authors == ["Luis B. Castro", "Edilberto O. Silva"]
    assert second.doi == "10.1088/1751-8121/aa9c53"
    assert second.journal_ref == "J. Phys. A: Math. Theor. 51 (2018) 035201"
    assert second.comments == "7 pages"

    assert len(third.authors) == 5
    assert (third.authors[0], third.authors[-1]) == ("R. A. C. Correa", "C. A. S. Almeida")
    assert "A. de Souza Dutra" in third.authors
    assert third.categories == ["hep-th"]
    assert third.comments is None
    assert third.abstract.endswith("arises from the CE.")


def test_arxiv_prefix_suffix_and_latex_accents_in_names() -> None:
    data = fixture(ARXIV).replace(
        b"<author><keyname>Hoehn</keyname><forenames>Philipp A</forenames></author>",
        b'<author><keyname>M\\"uller</keyname><forenames>Hans</forenames>'
        b"<suffix>Jr</suffix></author>",
    )
    assert papers(data)[0].authors == ["Hans M\u00fcller Jr"]


# --- errors -----------------------------------------------------------------------------------


def test_no_records_match_raises_for_the_harvester() -> None:
    with pytest.raises(oai.OaiError) as info:
        oai.parse_page(fixture("arxiv_oai_error_noRecordsMatch.xml"))
    assert info.value.code == "noRecordsMatch"
    assert "The setSpec was 'moo'" in str(info.value)
    assert isinstance(info.value, SourceError)


def test_no_records_match_means_nothing_new_for_parse() -> None:
    assert list(oai.parse(fixture("arxiv_oai_error_noRecordsMatch.xml"))) == []


def test_bad_resumption_token_raises_from_both_entry_points() -> None:
    data = fixture("arxiv_oai_error_badResumptionToken.xml")
    for call in (oai.parse_page, lambda d: list(oai.parse(d))):
        with pytest.raises(oai.OaiError) as info:
            call(data)
        assert info.value.code == "badResumptionToken"
        assert "The resumptionToken supplied is illegal for this repository" in str(info.value)


def test_last_page_with_empty_token_has_no_token_but_keeps_counts() -> None:
    data = fixture(RAW).replace(
        b'<resumptionToken cursor="0" completeListSize="58011">726959|1001</resumptionToken>',
        b'<resumptionToken cursor="58005" completeListSize="58011">  </resumptionToken>',
    )
    page = oai.parse_page(data)
    assert page.resumption_token is None
    assert (page.cursor, page.complete_list_size) == (58005, 58011)


def test_deleted_records_are_skipped_but_count_for_the_datestamp() -> None:
    deleted = (
        b'<record>\n<header status="deleted">\n <identifier>oai:arXiv.org:0704.9999</identifier>\n'
        b" <datestamp>2015-01-05</datestamp>\n</header>\n</record>\n"
    )
    data = fixture(RAW).replace(b"<resumptionToken", deleted + b"<resumptionToken")
    page = oai.parse_page(data)
    assert len(page.records) == 6
    assert "0704.9999" not in [r.arxiv_id for r in page.records]
    assert page.max_datestamp == date(2015, 1, 5)


def test_a_document_that_is_not_oai_pmh_is_refused() -> None:
    with pytest.raises(SourceError) as info:
        oai.parse_page(fixture("arxiv_api_query.xml"))
    assert info.value.code == "unknown_format"


# --- broken records and broken XML ------------------------------------------------------------


def test_truncated_page_yields_complete_records_then_one_error() -> None:
    data = fixture(RAW)
    cut = truncate_inside(data, b"<record>", nth=4, into=400)
    records = list(oai.parse(cut))
    assert len(records) == 4
    assert records[:3] == papers(data)[:3]
    error = records[3]
    assert isinstance(error, RecordError)
    last_line = cut.count(b"\n") + 1  # the input ends mid-line; that is where it broke
    assert error.position == f"line {last_line}"
    assert "malformed XML" in error.message
    page = oai.parse_page(cut)
    assert page.resumption_token is None
    assert page.max_datestamp == date(2014, 12, 22)


@pytest.mark.parametrize(
    "replacement",
    [b"<title> \t </title>", b"<title/>", b""],
    ids=["whitespace-title", "empty-element", "no-title-element"],
)
def test_record_without_title_is_an_error_and_parsing_continues(replacement: bytes) -> None:
    data = fixture(RAW)
    title = (
        b"<title>Higher ramification and varieties of secant divisors on the generic\n"
        b"  curve</title>"
    )
    assert data.count(title) == 1
    # Keep the line count so the following positions stay where the fixture has them.
    records = oai.parse_page(data.replace(title, replacement + b"\n")).records
    assert len(records) == 6
    assert isinstance(records[2], RecordError)
    assert str(records[2]) == "record 3 (line 53): missing title"
    assert records[2].source == "oai_arxivraw"
    assert isinstance(records[3], PaperRecord) and records[3].arxiv_id == "0704.1109"
    assert records[3].position == "record 4 (line 80)"


def test_xxe_entity_cannot_read_local_files() -> None:
    data = fixture(ARXIV).replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE OAI-PMH [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    data = data.replace(b"<comments>7 pages</comments>", b"<comments>&xxe;</comments>")
    data = data.replace(b"<keyname>Castro</keyname>", b"<keyname>Castro&xxe;</keyname>")
    recs = papers(data)
    dumped = repr(recs)
    assert "root:" not in dumped and "&xxe;" not in dumped
    assert recs[1].comments is None
    assert recs[1].authors[0] == "Luis B. Castro"
