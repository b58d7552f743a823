"""The Hugging Face daily papers parser on the recorded ``/api/daily_papers`` response."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import SHARED

from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.sources import hf_daily

DAILY = SHARED / "fixtures" / "hf_daily_papers.json"

IDS = [
    "2606.00467", "2606.12730", "2606.13594", "2606.13174",
    "2606.10423", "2606.07867", "2606.11409", "2606.12451",
]


def entries() -> list[dict[str, Any]]:
    return json.loads(DAILY.read_bytes())


def parse_ok(data: bytes) -> list[PaperRecord]:
    out = list(hf_daily.parse(data))
    assert all(isinstance(r, PaperRecord) for r in out), [str(r) for r in out]
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def daily() -> list[PaperRecord]:
    return parse_ok(DAILY.read_bytes())


def test_all_eight_papers_in_order(daily: list[PaperRecord]) -> None:
    assert [r.arxiv_id for r in daily] == IDS
    assert [r.position for r in daily] == [f"record {n}" for n in range(1, 9)]
    assert {r.source for r in daily} == {"hf_daily"}
    assert all(r.categories == [] and r.doi is None for r in daily)


def test_upvotes_are_ints_and_seven_papers_have_some(daily: list[PaperRecord]) -> None:
    upvotes = [r.extras["hf_daily"]["upvotes"] for r in daily]
    assert upvotes == [0, 5, 3, 2, 2, 2, 8, 2]
    assert all(type(u) is int for u in upvotes)
    assert sum(u > 0 for u in upvotes) == 7


def test_first_record_field_by_field(daily: list[PaperRecord]) -> None:
    r = daily[0]
    assert r.title == (
        "On the Limits of LLM Adaptability: Impact of Model-Internalized Priors on Annotation "
        "Task Performance"
    )
    assert r.abstract.startswith("Large Language Models (LLMs) are increasingly used for")
    assert r.abstract.endswith("over text-level memorization.")
    assert r.authors == ["Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez"]
    # paper.publishedAt (the arXiv day), not the daily entry's 2026-05-29T20:00Z.
    assert r.published == datetime(2026, 5, 30, tzinfo=UTC)
    assert r.updated is None and r.versions == []
    assert r.links.abstract == "https://arxiv.org/abs/2606.00467"
    assert r.links.pdf == "https://arxiv.org/pdf/2606.00467"
    assert r.links.code == [] and r.links.project is None
    extras = r.extras["hf_daily"]
    assert extras["upvotes"] == 0
    assert extras["github_repo"] is None and extras["github_stars"] is None
    assert extras["submitter"] == "RKocielnik"
    assert extras["ai_keywords"][:3] == [
        "zero-shot annotation", "LLM-as-a-judge", "model-internalized priors"
    ]
    assert len(extras["ai_keywords"]) == 14
    assert extras["ai_summary"].startswith("Large language models exhibit limited ability")
    assert extras["num_comments"] == 2
    assert extras["organization"] == "caltech"
    assert extras["daily_date"] == "2026-06-12"


def test_github_repo_comes_first_then_summary_links(daily: list[PaperRecord]) -> None:
    r = daily[3]
    assert r.extras["hf_daily"]["github_repo"] == "https://github.com/YujunZhou/tellonce"
    assert r.extras["hf_daily"]["github_stars"] == 2
    # The summary names TRACE_exp before tellonce; the Hub's own link leads, without a repeat.
    assert r.links.code == [
        "https://github.com/YujunZhou/tellonce",
        "https://github.com/YujunZhou/TRACE_exp",
    ]
    assert len(r.authors) == 11 and r.authors[-1] == "Xiangliang Zhang"
    assert r.extras["hf_daily"]["organization"] is None


def test_project_pages_and_repos(daily: list[PaperRecord]) -> None:
    assert daily[2].links.project == "https://chicychen.github.io/dense-hetero-latent-mas/"
    assert daily[2].links.code == []
    assert daily[4].links.project == "https://jayoohwang1.github.io/webchallenger-site/"
    assert daily[4].links.code == ["https://github.com/jayoohwang1/webchallenger"]
    assert daily[1].links.code == [
        "https://github.com/psychology-of-AI/Rethinking-Pyschometric-Eval-LLMs"
    ]
    assert daily[1].links.project is None


def test_authors_counts_order_and_non_ascii(daily: list[PaperRecord]) -> None:
    assert [len(r.authors) for r in daily] == [3, 8, 10, 11, 3, 3, 4, 4]
    assert daily[6].authors == [
        "Malikeh Ehghaghi", "Boglárka Ecsedi", "Marsha Chechik", "Colin Raffel"
    ]


def test_per_record_extras(daily: list[PaperRecord]) -> None:
    got = [
        (
            e["submitter"], e["organization"], e["num_comments"], e["github_stars"],
            e["daily_date"],
        )
        for e in (r.extras["hf_daily"] for r in daily)
    ]
    assert got == [
        ("RKocielnik", "caltech", 2, None, "2026-06-12"),
        ("RKocielnik", None, 3, 1, "2026-06-12"),
        ("siyich", "umich", 2, None, "2026-06-12"),
        ("yujunzhou", None, 2, 2, "2026-06-12"),
        ("jayoohwang", None, 2, 2, "2026-06-12"),
        ("cesun", None, 2, 1, "2026-06-12"),
        ("Malikeh1375", "r-three", 3, 1, "2026-06-12"),
        ("ashutosh1919", "SAP", 2, 1, "2026-06-12"),
    ]
    assert [r.published.date().isoformat() for r in daily if r.published] == [
        "2026-05-30", "2026-06-10", "2026-06-11", "2026-06-11",
        "2026-06-09", "2026-06-05", "2026-06-09", "2026-06-04",
    ]


def test_daily_date_and_submitter_fall_back_to_the_outer_entry() -> None:
    entry = entries()[0]
    del entry["paper"]["submittedOnDailyAt"]
    del entry["paper"]["submittedOnDailyBy"]
    (r,) = parse_ok(json.dumps([entry]).encode())
    assert r.extras["hf_daily"]["daily_date"] == "2026-05-29"  # outer publishedAt
    assert r.extras["hf_daily"]["submitter"] == "RKocielnik"  # outer submittedBy


def test_wrappers_and_bare_papers_are_accepted() -> None:
    items = entries()
    assert [r.arxiv_id for r in parse_ok(json.dumps({"papers": items}).encode())] == IDS
    (single,) = parse_ok(json.dumps(items[2]).encode())
    assert single.arxiv_id == "2606.13594"
    (bare,) = parse_ok(json.dumps(items[3]["paper"]).encode())
    assert bare.arxiv_id == "2606.13174" and bare.links.code[0].endswith("/tellonce")
    assert bare.extras["hf_daily"]["num_comments"] is None  # only the daily entry has it


def test_bad_records_are_reported_and_the_rest_parsed() -> None:
    items: list[Any] = entries()[:2]
    no_id = json.loads(json.dumps(items[0]))
    del no_id["paper"]["id"]
    no_title = json.loads(json.dumps(items[1]))
    no_title["paper"]["title"] = " "
    no_title["title"] = None
    not_arxiv = {"paper": {"id": "abc", "title": "T"}}
    data = [items[0], "2606.00467", None, no_id, no_title, {"paper": []}, not_arxiv, items[1]]
    out = list(hf_daily.parse(json.dumps(data).encode()))
    assert [str(r) for r in out if isinstance(r, RecordError)] == [
        "record 2: expected a JSON object, got str",
        "record 3: expected a JSON object, got null",
        "record 4: missing paper.id",
        "record 5: missing title (2606.12730)",
        "record 6: paper is not an object but list",
        "record 7: paper.id is not an arXiv id: 'abc'",
    ]
    good = [r for r in out if isinstance(r, PaperRecord)]
    assert [(r.position, r.arxiv_id) for r in good] == [
        ("record 1", "2606.00467"), ("record 8", "2606.12730")
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DAILY.read_bytes()[:-200], "invalid JSON"),
        (b'{"error": "Invalid date"}', "the API returned an error: Invalid date"),
        (b"42", "expected a JSON array of daily papers, got int"),
        (b'["caf\xe9"]', "invalid UTF-8 at byte 5"),
    ],
)
def test_unusable_input_raises_source_error(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(hf_daily.parse(data))


def test_empty_day_yields_nothing() -> None:
    assert list(hf_daily.parse(b"[]")) == []
