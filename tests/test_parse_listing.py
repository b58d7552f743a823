"""The plain-listing parser on the copied "trending papers" kernel search page."""

from __future__ import annotations

import pytest
from conftest import SHARED

from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.sources import listing

LISTING = SHARED / "corpus" / "listing_kernel_search.txt"

BANNER = (
    b"Get trending papers in your email inbox once a day!\n"
    b"Get trending papers in your email inbox!\n"
)


def parse_ok(data: bytes) -> list[PaperRecord]:
    out = list(listing.parse(data))
    assert all(isinstance(r, PaperRecord) for r in out), [str(r) for r in out]
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def papers() -> list[PaperRecord]:
    return parse_ok(LISTING.read_bytes())


def test_corpus_has_194_papers_with_title_line_positions(papers: list[PaperRecord]) -> None:
    assert len(papers) == 194
    # Two banner lines, then title/abstract pairs: titles sit on lines 3, 5, ..., 389.
    assert [r.position for r in papers] == [f"line {n}" for n in range(3, 390, 2)]
    assert {r.source for r in papers} == {"listing"}


def test_subscribe_button_text_is_removed_from_the_first_title(papers: list[PaperRecord]) -> None:
    assert papers[0].title == (
        "CondConv: Conditionally Parameterized Convolutions for Efficient Inference"
    )
    assert papers[1].title == "WARP: An Efficient Engine for Multi-Vector Retrieval"
    assert not any("Subscribe" in r.title or "trending papers" in r.title for r in papers)


def test_first_record_field_by_field(papers: list[PaperRecord]) -> None:
    r = papers[0]
    assert r.abstract.startswith("Convolutional layers are one of the basic building blocks")
    assert r.abstract.endswith("efficientnet/condconv.")
    # The abstract links deep into a repository; the link is to the repository itself.
    assert r.links.code == ["https://github.com/tensorflow/tpu"]
    assert r.links.project is None and r.links.abstract is None and r.links.pdf is None
    assert r.arxiv_id is None and r.doi is None
    assert r.authors == [] and r.categories == [] and r.published is None
    assert r.extras == {}


def test_last_record_and_links(papers: list[PaperRecord]) -> None:
    last = papers[-1]
    assert last.title == "Rewrite the Stars"
    assert last.position == "line 389"
    assert last.links.code == ["https://github.com/ma-xu/Rewrite-the-Stars"]
    assert papers[-2].title == "MLP-KAN: Unifying Deep Representation and Function Learning"
    assert sum(1 for r in papers if r.links.code) == 45
    (with_project,) = [r for r in papers if r.links.project]
    assert with_project.links.project == "https://lijunrio.github.io/K2Sight/"
    assert with_project.title.startswith("Knowledge to Sight:")


def test_no_ids_are_invented(papers: list[PaperRecord]) -> None:
    assert all(r.arxiv_id is None and r.doi is None for r in papers)
    text = b"A title with 2103.14030\nAbstract citing doi:10.1000/xyz and arXiv:2004.05150.\n"
    (r,) = parse_ok(text)
    assert r.arxiv_id is None and r.doi is None
    assert r.title == "A title with 2103.14030"


def test_titles_and_abstracts_are_whitespace_clean(papers: list[PaperRecord]) -> None:
    assert all(r.title == " ".join(r.title.split()) for r in papers)
    assert all(r.abstract and r.abstract == " ".join(r.abstract.split()) for r in papers)


def test_blank_lines_crlf_and_bom_are_tolerated(papers: list[PaperRecord]) -> None:
    lines = LISTING.read_bytes().split(b"\n")
    spaced = b"\xef\xbb\xbf" + b"\r\n\r\n".join(lines) + b"\r\n\r\n"
    again = parse_ok(spaced)
    assert [(r.title, r.abstract) for r in again] == [(r.title, r.abstract) for r in papers]
    assert again[0].position == "line 5" and again[1].position == "line 9"


def test_banner_is_recognised_by_content_not_position() -> None:
    text = b"\n" + BANNER + b"\nTitle one\nAbstract one.\n" + BANNER + b"Title two\nAbstract two.\n"
    out = parse_ok(text)
    assert [(r.position, r.title) for r in out] == [("line 5", "Title one"),
                                                    ("line 9", "Title two")]
    # Without a banner the first line is a title.
    (plain,) = parse_ok(b"Only title\nOnly abstract\n")
    assert (plain.position, plain.title) == ("line 1", "Only title")


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        (b"Subscribe3D Gaussian Splatting", "3D Gaussian Splatting"),
        (b"Subscriber Churn Prediction", "Subscriber Churn Prediction"),
        (b"Subscribe to Kernels", "Subscribe to Kernels"),
        (b"subscribeCase", "subscribeCase"),
    ],
)
def test_subscribe_prefix_only_when_glued(first_line: bytes, title: str) -> None:
    (r,) = parse_ok(BANNER + first_line + b"\nAn abstract.\n")
    assert r.title == title


def test_subscribe_is_only_stripped_from_the_first_title() -> None:
    out = parse_ok(b"SubscribeFirst\nA.\nSubscribeSecond\nB.\n")
    assert [r.title for r in out] == ["First", "SubscribeSecond"]
    # A button copied onto its own line is page furniture too.
    (r,) = parse_ok(BANNER + b"Subscribe\nReal Title\nReal abstract.\n")
    assert (r.title, r.position) == ("Real Title", "line 4")


def test_title_without_abstract_at_end_of_file(papers: list[PaperRecord]) -> None:
    data = LISTING.read_bytes() + b"\nA Dangling Title\n\n"
    out = list(listing.parse(data))
    assert len(out) == 195
    assert [r.title for r in out[:194] if isinstance(r, PaperRecord)] == [p.title for p in papers]
    assert isinstance(out[-1], RecordError)
    assert str(out[-1]) == "line 391: title without abstract"
    assert out[-1].source == "listing"


def test_invalid_utf8_costs_only_its_own_paper() -> None:
    data = b"T1\nAbstract one.\nT2\nAbstract caf\xe9 two.\nT3\nAbstract three.\n"
    out = list(listing.parse(data))
    assert [type(r) for r in out] == [PaperRecord, RecordError, PaperRecord]
    # The offset counts from the start of the input, so an editor's "go to byte" finds it.
    assert data.index(b"\xe9") == 32
    assert str(out[1]) == "line 3: invalid UTF-8 at byte offset 32 (line 4)"
    assert [r.title for r in out if isinstance(r, PaperRecord)] == ["T1", "T3"]


def test_invalid_utf8_in_a_title_and_in_a_dangling_last_line() -> None:
    data = b"\xef\xbb\xbfT\xff1\nAbstract.\nT2\nB.\nT\xc3"
    out = list(listing.parse(data))
    # Offsets include the BOM: they are positions in the bytes as given.
    assert (data.index(b"\xff"), data.index(b"\xc3")) == (4, 24)
    assert [str(r) for r in out if isinstance(r, RecordError)] == [
        "line 1: invalid UTF-8 at byte offset 4 (line 1)",
        "line 5: invalid UTF-8 at byte offset 24 (line 5)",
    ]
    assert [r.title for r in out if isinstance(r, PaperRecord)] == ["T2"]


def test_utf16_input_is_refused_as_a_whole() -> None:
    data = LISTING.read_bytes()[:500].decode().encode("utf-16")
    with pytest.raises(SourceError, match="UTF-16"):
        list(listing.parse(data))


def test_empty_input_yields_nothing() -> None:
    assert list(listing.parse(b"")) == []
    assert list(listing.parse(BANNER)) == []
