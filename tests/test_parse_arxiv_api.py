"""The arXiv API parser on real recorded feeds: 2026 and 2016 formats, error and empty feeds,
broken and hostile XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import FIXTURES

from paperboy.models import PaperRecord, RecordError, SourceError, Version
from paperboy.sources import arxiv_api


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def papers(data: bytes) -> list[PaperRecord]:
    records = list(arxiv_api.parse(data))
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


MINIMAL_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:ax="http://arxiv.org/schemas/atom">
  <a:entry>
    <a:id>http://arxiv.org/abs/2401.01234v3</a:id>
    <a:updated>2024-03-05T10:00:00Z</a:updated>
    <a:published>2024-01-03T09:00:00Z</a:published>
    <a:title>  A   wrapped
      title </a:title>
    <a:summary>We release code at https://github.com/Some-Org/some-repo.git today.
Project page: https://some-org.github.io/proj/.</a:summary>
    <a:author><a:name>First Author</a:name><ax:affiliation>Somewhere</ax:affiliation></a:author>
    <a:author><a:name>   </a:name></a:author>
    <a:author><a:name>Last Author</a:name></a:author>
    <a:category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <a:category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/>
    <a:category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <ax:primary_category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/>
    <ax:comment>   </ax:comment>
    <title>Not Atom: an element without namespace must not be taken for the title</title>
  </a:entry>
</a:feed>
"""


# --- current (2026) format -------------------------------------------------------------------


def test_current_feed_paging_counters_and_count() -> None:
    page = arxiv_api.parse_feed(fixture("arxiv_api_query.xml"))
    assert (page.total_results, page.start_index, page.items_per_page) == (214881, 0, 10)
    assert len(page.records) == 10
    assert all(isinstance(r, PaperRecord) for r in page.records)


def test_current_feed_ids_in_feed_order_without_version() -> None:
    ids = [r.arxiv_id for r in papers(fixture("arxiv_api_query.xml"))]
    assert ids == [
        "2202.12139", "2405.13786", "2005.14124", "2204.08348", "2302.03287",
        "1202.4527", "2503.05378", "1205.1866", "2502.07719", "1812.11470",
    ]  # fmt: skip


def test_current_feed_first_entry_field_by_field() -> None:
    rec = papers(fixture("arxiv_api_query.xml"))[0]
    assert rec.source == "arxiv_api"
    assert rec.position == "entry 1 (line 10)"
    assert rec.arxiv_id == "2202.12139"
    assert rec.title == (
        "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    )
    assert rec.abstract.startswith("Deep Learning (DL) has revolutionized the capabilities")
    assert rec.abstract.endswith("and discuss its results.")
    assert rec.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert rec.categories == ["cs.SE", "cs.LG"]
    assert rec.published == utc(2022, 2, 24, 15, 5, 19)
    assert rec.updated == utc(2022, 2, 24, 15, 5, 19)
    assert rec.published.tzinfo is UTC
    assert rec.versions == [Version("v1", utc(2022, 2, 24, 15, 5, 19))]
    assert rec.version == 1
    assert rec.doi == "10.1109/icstw55395.2022.00035"
    assert rec.journal_ref == (
        "Artificial Intelligence in Software Testing @ 2022 IEEE International Conference on "
        "Software Testing, Verification and Validation Workshops (ICSTW)"
    )
    assert rec.comments == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert rec.links.abstract == "https://arxiv.org/abs/2202.12139"
    assert rec.links.pdf == "https://arxiv.org/pdf/2202.12139"
    assert rec.links.code == []
    assert rec.links.project is None
    assert rec.license is None


def test_current_feed_later_version_keeps_first_submission_as_published() -> None:
    rec = papers(fixture("arxiv_api_query.xml"))[2]
    assert rec.arxiv_id == "2005.14124"
    assert rec.versions == [Version("v2", utc(2020, 7, 16, 8, 15, 48))]
    assert rec.published == utc(2020, 5, 28, 16, 19, 50)
    assert rec.updated == utc(2020, 7, 16, 8, 15, 48)
    assert rec.categories == ["cs.SE", "cs.CR", "cs.LG"]
    assert len(rec.authors) == 5
    assert (rec.authors[0], rec.authors[-1]) == ("Yuqi Chen", "Fan Zhang")
    assert rec.doi == "10.1145/3395363.3397376"


def test_current_feed_entities_are_unescaped_and_optional_fields_absent() -> None:
    recs = papers(fixture("arxiv_api_query.xml"))
    assert recs[4].title == "ChatGPT and Software Testing Education: Promises & Perils"
    assert recs[5].journal_ref == (
        "International Journal of Software Engineering & Applications (IJSEA), Vol.3, No.1, "
        "January 2012"
    )
    survey = recs[6]
    assert survey.arxiv_id == "2503.05378"
    assert survey.doi is None
    assert survey.journal_ref is None
    assert survey.comments == "Web Testing, GUI Testing, front-end, survey, SBST, AI, fuzzing"
    assert survey.versions == [Version("v2", utc(2025, 8, 12, 14, 8, 11))]


def test_current_feed_multi_paragraph_abstract_is_one_clean_line() -> None:
    rec = papers(fixture("arxiv_api_query.xml"))[-1]
    assert rec.position == "entry 10 (line 240)"
    assert "\n" not in rec.abstract and "  " not in rec.abstract
    assert rec.abstract.startswith("Context. Multiple automated techniques")
    assert "whole. Objective. In this systematic review" in rec.abstract
    assert rec.authors == ["Yauhen Leanidavich Arnatovich", "Lipo Wang"]


# --- legacy (2016) format ---------------------------------------------------------------------


def test_legacy_feed_counters_and_count() -> None:
    page = arxiv_api.parse_feed(fixture("arxiv_api_query_legacy.xml"))
    assert (page.total_results, page.start_index, page.items_per_page) == (31, 0, 10)
    assert len(page.records) == 10
    assert all(isinstance(r, PaperRecord) for r in page.records)


def test_legacy_feed_first_entry_field_by_field() -> None:
    rec = papers(fixture("arxiv_api_query_legacy.xml"))[0]
    assert rec.arxiv_id == "1201.4869"
    assert rec.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    # Hard-wrapped with a two-space indent in the feed; one clean line here.
    assert rec.abstract.startswith("As helium-4 is cooled below 2.17 K it undergoes a phase")
    assert "transition to a fundamentally new state" in rec.abstract
    assert rec.abstract.endswith("intriguing low dimensional state of matter.")
    assert rec.authors == ["Adrian Del Maestro"]
    # primary_category with a scheme attribute and per-element xmlns are read the same way.
    assert rec.categories == ["cond-mat.mes-hall", "cond-mat.other"]
    assert rec.doi == "10.1142/s021797921244002x"
    assert rec.journal_ref == "Int. J. Mod. Phys. B, 26, 1244002 (2012)"
    assert rec.comments == "26 pages, 10 figures"
    assert rec.published == rec.updated == utc(2012, 1, 23, 21, 15, 2)
    assert rec.versions == [Version("v1", utc(2012, 1, 23, 21, 15, 2))]
    # The feed has http links; ours are https and versionless.
    assert rec.links.abstract == "https://arxiv.org/abs/1201.4869"
    assert rec.links.pdf == "https://arxiv.org/pdf/1201.4869"


def test_legacy_feed_old_style_id_and_wrapped_title() -> None:
    recs = papers(fixture("arxiv_api_query_legacy.xml"))
    old = recs[2]
    assert old.arxiv_id == "cond-mat/0603029"
    assert old.links.abstract == "https://arxiv.org/abs/cond-mat/0603029"
    assert old.links.pdf == "https://arxiv.org/pdf/cond-mat/0603029"
    assert old.title == (
        "From stripe to checkerboard order on the square lattice in the presence of quenched "
        "disorder"
    )
    assert old.authors == ["Adrian Del Maestro", "Bernd Rosenow", "Subir Sachdev"]
    assert old.categories == ["cond-mat.str-el", "cond-mat.supr-con"]
    assert [r.arxiv_id for r in recs].count("cond-mat/0702661") == 1


def test_legacy_feed_second_version_dates() -> None:
    rec = papers(fixture("arxiv_api_query_legacy.xml"))[4]
    assert rec.arxiv_id == "1303.6954"
    assert rec.title == "Local Superfluidity at the Nanoscale"
    assert rec.published == utc(2013, 3, 27, 20, 0, 4)
    assert rec.updated == utc(2013, 9, 3, 1, 6, 36)
    assert rec.versions == [Version("v2", utc(2013, 9, 3, 1, 6, 36))]
    assert rec.doi == "10.1103/physrevb.88.064512"


def test_legacy_and_current_give_timezone_aware_utc_dates() -> None:
    for name in ("arxiv_api_query.xml", "arxiv_api_query_legacy.xml"):
        for rec in papers(fixture(name)):
            assert rec.published is not None and rec.published.utcoffset().total_seconds() == 0
            assert rec.updated is not None and rec.updated >= rec.published


# --- error and empty feeds --------------------------------------------------------------------


def test_error_feed_raises_with_server_message_and_never_yields_a_paper() -> None:
    data = fixture("arxiv_api_error.xml")
    seen: list[object] = []
    with pytest.raises(SourceError) as info:
        for record in arxiv_api.parse(data):
            seen.append(record)
    assert str(info.value) == "arXiv API error: incorrect id format for abc"
    assert info.value.code == "arxiv_api_error"
    assert seen == []
    with pytest.raises(SourceError, match="incorrect id format for abc"):
        arxiv_api.parse_feed(data)


def test_empty_feed_yields_nothing_and_reports_zero_results() -> None:
    data = fixture("arxiv_api_empty.xml")
    assert list(arxiv_api.parse(data)) == []
    page = arxiv_api.parse_feed(data)
    assert page.records == []
    assert (page.total_results, page.start_index, page.items_per_page) == (0, 0, 100)


def test_a_document_that_is_not_an_atom_feed_is_refused() -> None:
    with pytest.raises(SourceError) as info:
        list(arxiv_api.parse(fixture("arxiv_rss.xml")))
    assert info.value.code == "unknown_format"


# --- broken records and broken XML ------------------------------------------------------------


@pytest.mark.parametrize("name", ["arxiv_api_query.xml", "arxiv_api_query_legacy.xml"])
def test_truncated_feed_yields_complete_entries_then_one_error(name: str) -> None:
    data = fixture(name)
    cut = truncate_inside(data, b"<entry>", nth=4, into=300)
    records = list(arxiv_api.parse(cut))
    assert len(records) == 4
    full = papers(data)
    assert records[:3] == full[:3]
    error = records[3]
    assert isinstance(error, RecordError)
    assert error.source == "arxiv_api"
    last_line = cut.count(b"\n") + 1  # the input ends mid-line; that is where it broke
    assert error.position == f"line {last_line}"
    assert "malformed XML" in error.message


def test_truncated_feed_keeps_counters_read_before_the_break() -> None:
    cut = truncate_inside(fixture("arxiv_api_query.xml"), b"<entry>", nth=4, into=300)
    page = arxiv_api.parse_feed(cut)
    assert page.total_results == 214881
    assert [type(r) for r in page.records] == [PaperRecord] * 3 + [RecordError]


def test_garbage_is_one_malformed_error() -> None:
    records = list(arxiv_api.parse(b""))
    assert len(records) == 1 and isinstance(records[0], RecordError)
    assert records[0].position == "line 1"


@pytest.mark.parametrize(
    "replacement",
    [b"<title> \t  </title>", b"<title/>", b""],
    ids=["whitespace-title", "empty-element", "no-title-element"],
)
def test_entry_without_title_is_an_error_and_parsing_continues(replacement: bytes) -> None:
    data = fixture("arxiv_api_query.xml")
    title = b"<title>Active Fuzzing for Testing and Securing Cyber-Physical Systems</title>"
    assert data.count(title) == 1
    records = list(arxiv_api.parse(data.replace(title, replacement)))
    assert len(records) == 10
    error = records[2]
    assert isinstance(error, RecordError)
    assert str(error) == "entry 3 (line 63): missing title"
    assert all(isinstance(r, PaperRecord) for i, r in enumerate(records) if i != 2)
    assert records[3].arxiv_id == "2204.08348"
    assert records[3].position == "entry 4 (line 95)"


def test_entry_whose_id_is_not_an_arxiv_id_is_an_error() -> None:
    data = fixture("arxiv_api_query.xml").replace(
        b"<id>http://arxiv.org/abs/2202.12139v1</id>", b"<id>   </id>"
    )
    records = list(arxiv_api.parse(data))
    assert isinstance(records[0], RecordError)
    assert records[0].position == "entry 1 (line 10)"
    assert isinstance(records[1], PaperRecord)


# --- namespaces, whitespace and links on a small hand-made feed -------------------------------


def test_namespaces_matched_by_uri_whitespace_and_missing_optionals() -> None:
    (rec,) = papers(MINIMAL_FEED)
    assert rec.title == "A wrapped title"
    assert rec.arxiv_id == "2401.01234"
    # Whitespace-only author names and comments count as absent.
    assert rec.authors == ["First Author", "Last Author"]
    assert rec.comments is None
    assert rec.doi is None and rec.journal_ref is None
    # The primary category leads even when the feed lists it later; duplicates are dropped.
    assert rec.categories == ["stat.ML", "cs.LG"]
    assert rec.versions == [Version("v3", utc(2024, 3, 5, 10))]
    assert rec.published == utc(2024, 1, 3, 9)


def test_code_and_project_links_come_from_abstract_and_comments() -> None:
    (rec,) = papers(MINIMAL_FEED)
    assert rec.links.code == ["https://github.com/Some-Org/some-repo"]
    assert rec.links.project == "https://some-org.github.io/proj/"
    assert rec.links.abstract == "https://arxiv.org/abs/2401.01234"


def test_xxe_entity_cannot_read_local_files() -> None:
    hostile = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY % remote SYSTEM "file:///etc/passwd">
]>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <entry>
    <id>http://arxiv.org/abs/2202.12139v1</id>
    <title>Leak &xxe; here</title>
    <summary>&xxe;</summary>
    <author><name>&xxe;</name></author>
    <arxiv:comment>&xxe;</arxiv:comment>
  </entry>
</feed>
"""
    (rec,) = papers(hostile)
    dumped = repr(rec)
    assert "root:" not in dumped and "/bin/" not in dumped
    assert "&xxe;" not in dumped
    assert rec.title == "Leak here"
    assert rec.abstract == "" and rec.authors == [] and rec.comments is None
