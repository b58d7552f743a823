"""Passage vectors: the windows a paper's abstract is cut into (embed/passages.py), stored by
`paperboy embed` beside the paper's own vector on both databases, and read back by search's
second look (index/passages.py; its quality is in test_search_quality.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from conftest import LISTING, make_settings
from hypothesis import given
from hypothesis import strategies as st

from paperboy.embed import HashingEmbedder
from paperboy.embed.passages import passage_texts, windows
from paperboy.service import Paperboy

ABSTRACT = ("We study kernel thinning. It compresses a distribution of n points to sqrt(n) "
            "points. Our bound improves on i.i.d. sampling, e.g. for Gaussian kernels. "
            "Experiments in $d=100$ dimensions confirm it.")


def test_an_abstract_is_cut_between_sentences_into_windows_the_model_reads_whole() -> None:
    assert windows(ABSTRACT, width=80) == [
        "We study kernel thinning.",
        "It compresses a distribution of n points to sqrt(n) points.",
        "Our bound improves on i.i.d. sampling, e.g. for Gaussian kernels.",
        "Experiments in $d=100$ dimensions confirm it."]
    assert windows(ABSTRACT) == [" ".join(ABSTRACT.split())]  # 200 characters: one window
    assert windows("") == windows("  \n ") == []
    assert passage_texts({"title": "Kernel Thinning", "abstract": ABSTRACT}) == [
        "Kernel Thinning. " + ABSTRACT]
    assert passage_texts({"title": "Only a title", "abstract": None}) == []


@given(st.lists(st.text(alphabet="ab ,", min_size=1, max_size=120), max_size=12),
       st.integers(min_value=20, max_value=400))
def test_windows_keep_every_word_in_order_and_stay_under_the_width(
        sentences: list[str], width: int) -> None:
    text = " ".join(f"A{s}." for s in sentences)
    out = windows(text, width=width)
    assert " ".join(out) == " ".join(text.split())
    assert all(len(w) <= width or "." not in w[:-1] for w in out)  # longer: one sentence alone


class CountingEmbedder(HashingEmbedder):
    """The test seam's embedder, counting what it is asked to embed."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return super().embed(texts)


def test_embed_stores_each_papers_passages_and_adds_them_to_papers_stored_without(
        tmp_path: Path, database_url: str) -> None:
    embedder = CountingEmbedder()
    home = tmp_path / "home"
    alone = Paperboy(make_settings(home, database_url, rerank_candidates=0), embedder=embedder)
    alone.ingest([str(LISTING)])
    assert alone.embed().embedded == 194 and len(embedder.texts) == 194  # papers alone
    store, model = alone.store, alone.model_name
    assert store.embeddings.count_missing(model, passages=True) == 194
    papers = {p["id"]: p for p in alone.papers()}
    ids = sorted(papers)
    before = store.embeddings.vectors_of(ids, model)
    alone.close()

    embedder.texts.clear()
    service = Paperboy(make_settings(home, database_url), embedder=embedder)
    summary = service.embed()
    expected = {i: passage_texts(papers[i]) for i in ids}
    assert (summary.embedded, summary.remaining) == (194, 0)
    assert sorted(embedder.texts) == sorted(t for texts in expected.values() for t in texts)
    assert all(np.array_equal(v, before[i])
               for i, v in service.store.embeddings.vectors_of(ids, model).items())
    stored = service.store.embeddings.passages_of(ids, model)
    assert sum(len(m) for m in stored.values()) > 2 * 194  # a listing abstract: 6 windows
    for paper_id in ids[:20]:
        np.testing.assert_allclose(stored[paper_id], embedder.embed(expected[paper_id]),
                                   atol=1e-3)  # stored as float16
    assert service.embed().embedded == 0  # nothing left to do
    service.close()
