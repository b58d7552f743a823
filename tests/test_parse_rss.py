"""The arXiv listing RSS parser on a real cs.LG feed, announcement types, broken and hostile
XML."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import FIXTURES

from paperboy.models import PaperRecord, RecordError, SourceError, Version
from paperboy.sources import rss


def fixture(name: str = "arxiv_rss.xml") -> bytes:
    return (FIXTURES / name).read_bytes()


def papers(data: bytes) -> list[PaperRecord]:
    records = list(rss.parse(data))
    assert all(isinstance(r, PaperRecord) for r in records), records
    return records  # type: ignore[return-value]


def replace_nth(data: bytes, old: bytes, new: bytes, nth: int) -> bytes:
    """`data` with only the `nth` (1-based) occurrence of `old` replaced."""
    at = -1
    for _ in range(nth):
        at = data.index(old, at + 1)
    return data[:at] + new + data[at + len(old) :]


def as_replacement(data: bytes) -> bytes:
    """The fixture's second item turned into a v3 replacement that has a DOI and journal ref."""
    data = data.replace(b"oai:arXiv.org:2604.21953v1", b"oai:arXiv.org:2604.21953v3")
    data = data.replace(
        b"arXiv:2604.21953v1 Announce Type: new", b"arXiv:2604.21953v3 Announce Type: replace"
    )
    return replace_nth(
        data,
        b"<arxiv:announce_type>new</arxiv:announce_type>",
        b"<arxiv:announce_type>replace</arxiv:announce_type>"
        b"<arxiv:DOI>10.1000/XYZ.123</arxiv:DOI>"
        b"<arxiv:journal_reference>J. Sports Anal. 1 (2026)</arxiv:journal_reference>",
        2,
    )


# --- the real feed ----------------------------------------------------------------------------


def test_feed_has_three_new_items_in_order() -> None:
    recs = papers(fixture())
    assert [r.arxiv_id for r in recs] == ["2604.21952", "2604.21953", "2604.21956"]
    assert [r.position for r in recs] == [
        "item 1 (line 16)", "item 2 (line 32)", "item 3 (line 45)",
    ]  # fmt: skip
    assert {r.source for r in recs} == {"arxiv_rss"}


def test_first_item_field_by_field() -> None:
    rec = papers(fixture())[0]
    assert rec.title == (
        "Focus Session: Hardware and Software Techniques for Accelerating Multimodal "
        "Foundation Models"
    )
    assert rec.versions == [Version("v1", None)]
    assert rec.version == 1
    # The "arXiv:... Announce Type: new / Abstract:" preamble is not part of the abstract.
    assert rec.abstract.startswith("This work presents a multi-layered methodology")
    assert rec.abstract.endswith("extensions toward energy-efficient spiking-MFMs.")
    assert "visual resolution & stride" in rec.abstract
    assert "Announce Type" not in rec.abstract and "Abstract:" not in rec.abstract
    assert len(rec.authors) == 6
    assert (rec.authors[0], rec.authors[-1]) == ("Muhammad Shafique", "Minghao Shao")
    assert "Rachmad Vidya Wicaksana Putra" in rec.authors
    assert rec.categories == ["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]
    assert rec.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    # Midnight US Eastern (-0400) announcement, stored in UTC.
    assert rec.published == datetime(2026, 4, 27, 4, 0, tzinfo=UTC)
    assert rec.updated is None
    assert rec.doi is None and rec.journal_ref is None and rec.comments is None
    assert rec.extras == {"arxiv_rss": {"announce_type": "new", "announced": "2026-04-27"}}
    assert rec.links.abstract == "https://arxiv.org/abs/2604.21952"
    assert rec.links.pdf == "https://arxiv.org/pdf/2604.21952"


def test_other_items_authors_categories_and_license() -> None:
    _, second, third = papers(fixture())
    assert second.authors == ["Blessed Madukoma", "Prasenjit Mitra"]
    assert second.categories == ["cs.LG", "cs.CY"]
    assert "costs over $800 per sample" in second.abstract
    assert third.authors[0] == "Michal Valko" and third.authors[-1] == "Milos Hauskrecht"
    assert len(third.authors) == 5
    assert third.categories == ["cs.LG"]
    assert third.license == "http://creativecommons.org/licenses/by/4.0/"


# --- announcement types -----------------------------------------------------------------------


def test_replacement_claims_no_publication_date_but_keeps_version_doi_and_journal() -> None:
    first, replaced, third = papers(as_replacement(fixture()))
    assert replaced.extras["arxiv_rss"] == {"announce_type": "replace", "announced": "2026-04-27"}
    assert replaced.published is None
    assert replaced.versions == [Version("v3", None)]
    assert replaced.doi == "10.1000/xyz.123"
    assert replaced.journal_ref == "J. Sports Anal. 1 (2026)"
    assert replaced.abstract.startswith("Anti-doping programs rely on biological testing")
    # Neighbours are untouched.
    assert first.published is not None and third.published is not None


@pytest.mark.parametrize("kind", ["cross", "replace-cross"])
def test_cross_lists_claim_no_publication_date(kind: str) -> None:
    data = fixture().replace(
        b"<arxiv:announce_type>new</arxiv:announce_type>",
        b"<arxiv:announce_type>" + kind.encode() + b"</arxiv:announce_type>",
        1,
    )
    rec = papers(data)[0]
    assert rec.extras["arxiv_rss"]["announce_type"] == kind
    assert rec.published is None


def test_id_and_type_fall_back_to_the_description_without_guid_and_type() -> None:
    data = fixture()
    data = data.replace(
        b'<guid isPermaLink="false">oai:arXiv.org:2604.21952v1</guid>', b"<guid>  </guid>"
    )
    data = data.replace(b"<arxiv:announce_type>new</arxiv:announce_type>", b"", 1)
    rec = papers(data)[0]
    assert rec.arxiv_id == "2604.21952"
    assert rec.versions == [Version("v1", None)]
    assert rec.extras["arxiv_rss"]["announce_type"] == "new"
    assert rec.published == datetime(2026, 4, 27, 4, 0, tzinfo=UTC)


def test_a_document_that_is_not_rss_is_refused() -> None:
    with pytest.raises(SourceError) as info:
        list(rss.parse(fixture("arxiv_api_query.xml")))
    assert info.value.code == "unknown_format"


# --- broken records and broken XML ------------------------------------------------------------


def test_truncated_feed_yields_complete_items_then_one_error() -> None:
    data = fixture()
    # The fixture has only three items, so the break is inside the third.
    cut = data[: data.index(b"<link>https://arxiv.org/abs/2604.21956") + 600]
    records = list(rss.parse(cut))
    assert len(records) == 3
    assert records[:2] == papers(data)[:2]
    error = records[2]
    assert isinstance(error, RecordError)
    assert error.source == "arxiv_rss"
    last_line = cut.count(b"\n") + 1  # the input ends mid-line; that is where it broke
    assert error.position == f"line {last_line}"
    assert "malformed XML" in error.message


@pytest.mark.parametrize(
    "replacement",
    [b"<title>  \t </title>", b"<title/>", b""],
    ids=["whitespace-title", "empty-element", "no-title-element"],
)
def test_item_without_title_is_an_error_and_parsing_continues(replacement: bytes) -> None:
    title = (
        b"<title>Performance Anomaly Detection in Athletics: A Benchmarking System with Visual "
        b"Analytics</title>"
    )
    data = fixture()
    assert data.count(title) == 1
    records = list(rss.parse(data.replace(title, replacement)))
    assert len(records) == 3
    assert isinstance(records[1], RecordError)
    assert str(records[1]) == "item 2 (line 32): missing title"
    assert isinstance(records[2], PaperRecord) and records[2].arxiv_id == "2604.21956"


def test_xxe_entity_cannot_read_local_files() -> None:
    data = b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + fixture()
    data = data.replace(
        b"<dc:creator>Blessed Madukoma, Prasenjit Mitra</dc:creator>",
        b"<dc:creator>&xxe;Blessed Madukoma, Prasenjit Mitra</dc:creator>",
    )
    data = data.replace(b"Abstract: Anti-doping", b"Abstract: &xxe;Anti-doping")
    recs = papers(data)
    dumped = repr(recs)
    assert "root:" not in dumped and "&xxe;" not in dumped
    assert recs[1].authors == ["Blessed Madukoma", "Prasenjit Mitra"]
    assert recs[1].abstract.startswith("Anti-doping programs")
