"""The Semantic Scholar parser on recorded batch, search and single-paper responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import SHARED

from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.sources import s2

BATCH = SHARED / "fixtures" / "s2_paper_batch.json"
SEARCH = SHARED / "fixtures" / "s2_paper_search.json"
TITLE_ONLY = SHARED / "fixtures" / "s2_paper_get_title_only.json"


def parse_ok(data: bytes) -> list[PaperRecord]:
    out = list(s2.parse(data))
    assert all(isinstance(r, PaperRecord) for r in out), [str(r) for r in out]
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def batch() -> list[PaperRecord]:
    return parse_ok(BATCH.read_bytes())


@pytest.fixture(scope="module")
def search() -> list[PaperRecord]:
    return parse_ok(SEARCH.read_bytes())


def test_batch_skips_not_found_null_and_keeps_positions(batch: list[PaperRecord]) -> None:
    # Element 1 is null (the first requested id was not found); positions still follow the
    # request order so a caller can tell which id each answer belongs to.
    assert [r.position for r in batch] == ["record 2", "record 3", "record 4"]
    assert [r.doi for r in batch] == ["10.2139/ssrn.288970", "10.2139/ssrn.2250500",
                                      "10.1257/rct.1355"]
    assert all(r.arxiv_id is None and r.categories == [] for r in batch)
    assert {r.source for r in batch} == {"s2"}


def test_batch_paper_field_by_field(batch: list[PaperRecord]) -> None:
    r = batch[0]
    assert r.title == "How Much Should We Trust Differences-in-Differences Estimates?"
    assert r.abstract.startswith("Most Difference-in-Difference (DD) papers rely on many years")
    assert r.authors == ["Marianne Bertrand", "E. Duflo", "S. Mullainathan"]
    assert r.published == datetime(2001, 10, 1, tzinfo=UTC)
    assert r.journal_ref == "Experimental & Empirical Studies eJournal"
    # No arXiv id: the open-access PDF is the only link, and there is no arXiv abstract page.
    assert r.links.pdf == "http://papers.nber.org/papers/w8841.pdf"
    assert r.links.abstract is None and r.links.code == [] and r.links.project is None
    assert r.extras == {
        "s2": {
            "paper_id": "c31c87c591a25c64fbaa82e8ac6a81831b6ac7ce",
            "corpus_id": 470667,
            "citation_count": 10670,
            "influential_citation_count": 578,
            "reference_count": 30,
            "year": 2001,
            "fields_of_study": ["Psychology", "Economics", "Mathematics"],
            "url": "https://www.semanticscholar.org/paper/c31c87c591a25c64fbaa82e8ac6a81831b6ac7ce",
            "publication_types": ["Review"],
        }
    }
    # "venue": "" is missing information, not a venue.
    assert "venue" not in r.extras["s2"]


def test_batch_paper_with_nulls(batch: list[PaperRecord]) -> None:
    second, third = batch[1], batch[2]
    assert second.authors == ["E. Duflo", "A. Banerjee", "R. Glennerster", "Cynthia Kinnan"]
    assert second.links.pdf == (
        "https://dspace.mit.edu/bitstream/1721.1/95941/1/Banerjee_The%20miracle.pdf"
    )
    assert "publication_types" not in second.extras["s2"]  # null in the response
    assert second.extras["s2"]["corpus_id"] == 3142471
    # publicationDate null, year 2023: a year alone is not a date.
    assert third.published is None and third.extras["s2"]["year"] == 2023
    assert third.journal_ref is None and third.links.pdf is None
    assert "fields_of_study" not in third.extras["s2"]
    assert third.title == "Improving Third-Party Audits and Regulatory Compliance in India"


def test_search_records_use_arxiv_ids(search: list[PaperRecord]) -> None:
    assert [r.arxiv_id for r in search] == [
        "2103.14030", "2012.07436", "2004.05150", "2111.09881", "2108.10257"
    ]
    assert [r.title for r in search] == [
        "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
        "Informer: Beyond Efficient Transformer for Long Sequence Time-Series Forecasting",
        "Longformer: The Long-Document Transformer",
        "Restormer: Efficient Transformer for High-Resolution Image Restoration",
        "SwinIR: Image Restoration Using Swin Transformer",
    ]
    assert [len(r.authors) for r in search] == [8, 7, 3, 6, 6]
    assert search[2].authors == ["Iz Beltagy", "Matthew E. Peters", "Arman Cohan"]
    assert [r.doi for r in search] == [
        "10.1109/iccv48922.2021.00986", "10.1609/aaai.v35i12.17325", None,
        "10.1109/cvpr52688.2022.00564", "10.1109/iccvw54120.2021.00210",
    ]


def test_search_links_prefer_arxiv_over_open_access_pdf(search: list[PaperRecord]) -> None:
    informer = search[1]  # its openAccessPdf is the AAAI copy
    assert informer.links.abstract == "https://arxiv.org/abs/2012.07436"
    assert informer.links.pdf == "https://arxiv.org/pdf/2012.07436"
    assert search[0].links.code == ["https://github.com/microsoft/Swin-Transformer"]
    assert search[3].links.code == ["https://github.com/swz30/Restormer"]


def test_search_dates_and_extras(search: list[PaperRecord]) -> None:
    assert search[0].published is None  # Swin: publicationDate null, year 2021
    assert search[1].published == datetime(2020, 12, 14, tzinfo=UTC)
    assert search[4].published == datetime(2021, 8, 23, tzinfo=UTC)
    # The search response has no top-level corpusId; it comes from externalIds.
    assert search[0].extras == {
        "s2": {
            "paper_id": "c8b25fab5608c3e033d34b4483ec47e68ba109b7",
            "corpus_id": 232352874,
            "year": 2021,
            "url": "https://www.semanticscholar.org/paper/c8b25fab5608c3e033d34b4483ec47e68ba109b7",
        }
    }


def test_parse_search_keeps_paging() -> None:
    page = s2.parse_search(SEARCH.read_bytes())
    assert (page.total, page.offset, page.next) == (360715, 0, 5)
    assert len(page.records) == 5 and isinstance(page.records[0], PaperRecord)
    doc = json.loads(SEARCH.read_bytes())
    del doc["next"]  # the last page has no "next"
    doc["offset"] = 360710
    last = s2.parse_search(json.dumps(doc).encode())
    assert (last.offset, last.next) == (360710, None)


def test_parse_search_rejects_a_batch() -> None:
    with pytest.raises(SourceError, match="expected a paper, a list of papers or a search page"):
        s2.parse_search(BATCH.read_bytes())


def test_single_paper_with_only_a_title() -> None:
    (r,) = parse_ok(TITLE_ONLY.read_bytes())
    assert r.position == "record 1"
    assert r.title == "Computing Machinery and Intelligence"
    assert r.arxiv_id is None and r.doi is None and r.abstract == "" and r.authors == []
    assert r.published is None and r.journal_ref is None
    assert r.links.abstract is None and r.links.pdf is None
    assert r.extras == {"s2": {"paper_id": "2d5673caa9e6af3a7b82a43f19ee920992db07ad"}}


def test_journal_ref_with_volume_and_pages_and_arxiv_pseudo_journal() -> None:
    papers = [
        {"paperId": "a", "title": "A", "journal": {"name": "Nature", "volume": "521",
                                                   "pages": "436-444"}},
        {"paperId": "b", "title": "B", "journal": {"name": "ArXiv", "volume": "abs/2004.05150"}},
        {"paperId": "c", "title": "C", "journal": {"name": "", "volume": "3"}},
        {"paperId": "d", "title": "D", "externalIds": {"ArXiv": "2004.05150v2"},
         "openAccessPdf": {"url": ""}},
    ]
    a, b, c, d = parse_ok(json.dumps(papers).encode())
    assert a.journal_ref == "Nature 521, 436-444"
    assert b.journal_ref is None and c.journal_ref is None
    assert d.arxiv_id == "2004.05150"  # version stripped


def test_missing_title_and_non_objects_are_record_errors() -> None:
    doc = json.loads(BATCH.read_bytes())
    doc[2]["title"] = None
    doc.append("c31c87c591a25c64fbaa82e8ac6a81831b6ac7ce")
    doc.append({"paperId": "x", "title": "   "})
    out = list(s2.parse(json.dumps(doc).encode()))
    assert [str(r) for r in out if isinstance(r, RecordError)] == [
        "record 3: missing title",
        "record 5: expected a JSON object, got str",
        "record 6: missing title",
    ]
    assert [r.position for r in out if isinstance(r, PaperRecord)] == ["record 2", "record 4"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BATCH.read_bytes()[:100], "invalid JSON"),
        (b'{"error": "Paper not found"}', "the API returned an error: Paper not found"),
        (b'{"message": "Too Many Requests"}', "the API returned an error: Too Many Requests"),
        (b'{"data": "nope"}', "'data' is str"),
        (b"3", "got int"),
        (b'[{"title": "caf\xe9"}]', "invalid UTF-8 at byte 15"),
    ],
)
def test_unusable_input_raises_source_error(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(s2.parse(data))
