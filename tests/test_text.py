"""The identifier, name and text helpers every parser relies on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperboy.sources._text import (
    clean,
    code_links,
    normalize_doi,
    parse_arxiv_id,
    parse_date,
    split_authors,
    title_key,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("http://arxiv.org/abs/2202.12139v1", ("2202.12139", "v1")),
    ("oai:arXiv.org:hep-th/9901001", ("hep-th/9901001", None)),
    ("math.AG/0601001v2", ("math/0601001", "v2")),  # the subject class is not part of the id
    ("10.48550/arXiv.2103.14030", ("2103.14030", None)),
    ("arXiv:2604.21952v1 Announce Type: new", ("2604.21952", "v1")),
    ("1.2202.12139", None),
    ("no id here", None),
])
def test_arxiv_ids(text: str, expected: tuple[str, str | None] | None) -> None:
    assert parse_arxiv_id(text) == expected


def test_dois() -> None:
    assert normalize_doi("doi: 10.1103/PhysRevC.76.024606") == "10.1103/physrevc.76.024606"
    assert normalize_doi("https://doi.org/10.5/AB") == "10.5/ab"
    assert normalize_doi("10.1103/A 10.1103/B") == "10.1103/a"
    assert normalize_doi("not a doi") is None


def test_author_strings() -> None:
    assert split_authors(r"C. Bal\'azs, E. L. Berger, and C.-P. Yuan") == [
        "C. Balázs", "E. L. Berger", "C.-P. Yuan"]
    assert split_authors("A. Smith (1), B. Jones (2) ((1) MIT, (2) CERN)") == [
        "A. Smith", "B. Jones"]
    assert split_authors("A. B. Smith, Jr., C. Wu, et al") == ["A. B. Smith, Jr.", "C. Wu"]


def test_titles_from_different_sources_share_a_key() -> None:
    assert title_key(r"Stable {\'E}tudes of $O(n^2)$ Kernels") == "stable etudes of o n 2 kernels"
    assert title_key("Stable  Études of O(n^2) kernels!") == "stable etudes of o n 2 kernels"
    assert title_key("CondConv: Conditionally Parameterized") == title_key(
        "condconv -- conditionally parameterized")


def test_clean_collapses_whitespace_and_repairs_double_decoded_utf8() -> None:
    assert clean("  a\n  b\tc ") == "a b c"
    assert clean("Aurora RamÃ\xadrez") == "Aurora Ramírez"
    assert clean("Ã and 漢") == "Ã and 漢"  # a real Ã is left alone


def test_dates_become_aware_utc() -> None:
    assert parse_date("Mon, 27 Apr 2026 00:00:00 -0400") == datetime(2026, 4, 27, 4, tzinfo=UTC)
    assert parse_date("2008-11-26") == datetime(2008, 11, 26, tzinfo=UTC)
    assert parse_date("2026-05-30T00:00:00.000Z") == datetime(2026, 5, 30, tzinfo=UTC)
    assert parse_date("someday") is None


def test_code_links_point_at_repositories() -> None:
    text = ("Code: https://github.com/tensorflow/tpu/tree/master/models. Also "
            "https://github.com/ma-xu/Rewrite-the-Stars.git and https://gitlab.com/a/b).")
    assert code_links(text) == ["https://github.com/tensorflow/tpu",
                                "https://github.com/ma-xu/Rewrite-the-Stars",
                                "https://gitlab.com/a/b"]
