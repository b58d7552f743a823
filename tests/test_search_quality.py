"""Search quality on the dev set of ../shared/eval, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator

import pytest
from conftest import LISTING, SHARED, make_settings

from paperboy.service import Paperboy

FLOORS = {"hybrid": 0.96, "lexical": 0.95, "semantic": 0.92}


def _scorer():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("score", SHARED / "eval" / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.score


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paperboy]:
    service = Paperboy(make_settings(tmp_path_factory.mktemp("quality") / "home"))
    service.ingest([str(LISTING)])
    assert service.embed().embedded == 194
    yield service
    service.close()


@pytest.mark.parametrize("mode", FLOORS)
def test_dev_set_ndcg_at_10(listing: Paperboy, mode: str) -> None:
    qrels = json.loads((SHARED / "eval" / "dev_qrels.json").read_text())
    runs = {q["query"]: [h.title for h in listing.search(q["query"], limit=10, mode=mode).hits]
            for q in qrels}
    scores = _scorer()(qrels, runs)
    print(f"{mode}: {json.dumps(scores)}")
    assert scores["ndcg@10"] >= FLOORS[mode]


def test_hybrid_does_not_lose_to_either_part(listing: Paperboy) -> None:
    qrels = json.loads((SHARED / "eval" / "dev_qrels.json").read_text())
    score = _scorer()
    ndcg = {mode: score(qrels, {q["query"]: [h.title for h in listing.search(
        q["query"], limit=10, mode=mode).hits] for q in qrels})["ndcg@10"] for mode in FLOORS}
    assert ndcg["hybrid"] >= max(ndcg["lexical"], ndcg["semantic"]) - 1e-9, ndcg


def test_hybrid_finds_the_listing_papers_that_never_use_the_word(listing: Paperboy) -> None:
    """The listing came from a search by meaning: some of its papers never say "kernel"."""
    by_words = {h.id for h in listing.search("kernel", mode="lexical", limit=194).hits}
    both = {h.id for h in listing.search("kernel", mode="hybrid", limit=194).hits}
    wordless = both - by_words
    assert len(by_words) < 194 and len(both) == 194
    for paper_id in wordless:
        paper = listing.paper(paper_id)
        assert "kernel" not in (paper["title"] + paper["abstract"]).lower()
