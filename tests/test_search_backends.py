"""One search contract, two engines: the local indexes (tantivy + HNSW) and Milvus (Lite).

Every test here runs against both backends with the deterministic `HashingEmbedder`; the Milvus
runs use a Milvus Lite file under the test's temporary folder (`PAPERBOY_MILVUS_URI`). What a user
relies on (ids, titles, scores in order, explanations, filters inside retrieval, pasted ids,
pagination, clear answers to bad input) must hold on either. The last tests hold Milvus to the
dev-set floors the local backend meets (test_search_quality.py) with the real model;
bench/milvus_quality.py prints both backends' figures side by side.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, LISTING, SHARED, bench_quality, make_settings

from paperboy.embed import EmbedderUnavailable, HashingEmbedder
from paperboy.index.hybrid import PaperNotFound
from paperboy.index.milvus import reindex_milvus
from paperboy.index.milvus_search import MilvusSearcher
from paperboy.index.vectors import VectorIndex
from paperboy.models import Filters
from paperboy.progress import Silent
from paperboy.service import Paperboy

SOURCES = [str(LISTING), str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"),
           str(FIXTURES / "arxiv_api_query.xml"), str(FIXTURES / "hf_daily_papers.json")]
MODES = ("hybrid", "lexical", "semantic")
BACKENDS = ["local", "milvus"]


def _open(backend: str, folder: Path, embedder: HashingEmbedder | None = None) -> Paperboy:
    if backend == "milvus" and importlib.util.find_spec("milvus_lite") is None:
        if os.environ.get("CI"):
            raise RuntimeError("the Milvus tests need pymilvus and milvus-lite "
                               "(pip install -e '.[test]')")
        pytest.skip("the Milvus tests need pymilvus and milvus-lite (pip install -e '.[test]')")
    uri = str(folder / "milvus.db") if backend == "milvus" else ""
    return Paperboy(make_settings(folder / "home", milvus_uri=uri),
                    embedder=embedder or HashingEmbedder(dim=64))


def _release(service: Paperboy) -> None:
    service.close()
    if service.settings.milvus_uri:  # stop the in-process Milvus Lite server of this file
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(service.settings.milvus_uri)


@pytest.fixture(scope="module", params=BACKENDS)
def service(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paperboy]:
    """Read-only: the listing and three fixtures (248 papers), all embedded."""
    paperboy = _open(request.param, tmp_path_factory.mktemp(request.param))
    paperboy.ingest(SOURCES)
    paperboy.embed()
    yield paperboy
    _release(paperboy)


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Paperboy]]:
    """Opens empty services of this test's backend on one home (and one Milvus file)."""
    opened: list[Paperboy] = []

    def open_service(embedder: HashingEmbedder | None = None) -> Paperboy:
        opened.append(_open(request.param, tmp_path, embedder))
        return opened[-1]

    yield open_service
    for paperboy in opened:
        paperboy.close()
    if opened:
        _release(opened[-1])


def _indexed(service: Paperboy) -> int:
    """How many papers the backend's word index holds."""
    searcher = service.searcher
    if isinstance(searcher, MilvusSearcher):
        return searcher.collection.count()
    return service.lexical.count()


class BrokenEmbedder(HashingEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        raise EmbedderUnavailable("model 'nowhere' could not be loaded")


class StopAfter(Silent):
    """Progress that stops the run (as a kill would) after `updates` updates."""

    def __init__(self, updates: int) -> None:
        self.updates, self.seen = updates, []

    def update(self, completed: float) -> None:
        self.seen.append(completed)
        if len(self.seen) > self.updates:
            raise KeyboardInterrupt


# -- reading -----------------------------------------------------------------------------------


def test_words_and_meaning_find_the_paper_and_say_why(service: Paperboy) -> None:
    query = "kernel thinning distribution compression"
    for mode in MODES:
        result = service.search(query, limit=5, mode=mode)
        assert result.notices == []
        assert "Generalized Kernel Thinning" in [h.title for h in result.hits[:3]], mode
        assert [h.score for h in result.hits] == sorted((h.score for h in result.hits),
                                                        reverse=True)
    top = service.search(query, limit=5).hits[0]
    assert top.title == "Generalized Kernel Thinning"
    assert {"kernel", "thinning"} <= set(top.matched_terms)
    assert "<mark>" in top.snippet + top.title_snippet
    assert top.similarity is not None and -1.0 <= top.similarity <= 1.0
    assert top.lexical_rank is not None and top.semantic_rank is not None  # found by both
    lexical = service.search(query, mode="lexical").hits
    assert all(h.lexical_rank == n and h.bm25 and h.semantic_rank is None
               for n, h in enumerate(lexical, start=1))
    semantic = service.search(query, mode="semantic").hits
    assert all(h.semantic_rank == n and h.similarity == pytest.approx(h.score, abs=1e-4)
               and h.lexical_rank is None for n, h in enumerate(semantic, start=1))
    assert {h.id for h in lexical} != {h.id for h in semantic}



@pytest.mark.parametrize("mode", MODES)
def test_the_query_operators_hold_on_every_backend(service: Paperboy, mode: str) -> None:
    def papers(query: str) -> list[dict[str, Any]]:
        hits = service.search(query, mode=mode, limit=50).hits  # type: ignore[arg-type]
        assert hits, query
        return [p for p in (service.paper(h.id) for h in hits) if p is not None]

    assert any("thinning" in (p["title"] + p["abstract"]).lower() for p in papers("kernel"))
    for paper in papers("kernel -thinning"):
        assert "thinning" not in (paper["title"] + paper["abstract"]).lower()
    for paper in papers("ti:kernel attention"):
        assert "kernel" in paper["title"].lower()
    authored = next(p for p in papers("learning") if p["authors"])
    surname = authored["authors"][0].split()[-1]
    by_author = papers(f"learning au:{surname}")
    assert authored["id"] in {p["id"] for p in by_author}
    for paper in by_author:
        assert any(surname.lower() in author.lower() for author in paper["authors"])


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_stop_words_are_neither_marked_nor_listed_on_any_backend(service: Paperboy,
                                                                 mode: str) -> None:
    hits = service.search("the thinning of the kernel", mode=mode, limit=10).hits  # type: ignore[arg-type]
    assert "Generalized Kernel Thinning" in [h.title for h in hits]
    for hit in hits:
        assert not {"the", "of"} & set(hit.matched_terms)
        shown = (hit.snippet + hit.title_snippet).lower()
        assert "<mark>the</mark>" not in shown and "<mark>of</mark>" not in shown
        assert "<mark>thinning</mark>" in shown or "<mark>kernel" in shown


@pytest.mark.parametrize(("query", "title", "marked"), [
    ("kernelized normalizing flows", "Kernelised Normalising Flows", "Normalising"),
    ("quantisation-aware training", "HALO: Hadamard-Assisted Lossless Optimization for Efficient "
     "Low-Precision LLM Training and Fine-Tuning", "quantization"),
])
def test_either_spelling_finds_the_other_on_any_backend(service: Paperboy, query: str,
                                                        title: str, marked: str) -> None:
    """British and American spellings are one word to the index (index/spelling.py); the
    snippet marks, and the matched words list, the paper's own spelling."""
    for mode in ("lexical", "hybrid"):
        hits = service.search(query, mode=mode, limit=5).hits  # type: ignore[arg-type]
        assert title in [h.title for h in hits[:3]], mode
        hit = next(h for h in hits if h.title == title)
        assert f"<mark>{marked}</mark>" in hit.snippet + hit.title_snippet
        assert marked.lower() in hit.matched_terms, hit.matched_terms


def test_a_second_look_by_passages_keeps_the_contract_on_any_backend(service: Paperboy) -> None:
    """`rerank_candidates` (on by default; index/passages.py) judges a short query's best
    papers again by their passages' stored vectors; a longer query keeps its ranking, and hits
    are explained as before."""
    assert service.store.embeddings.count_missing(service.model_name, passages=True) == 0
    long_query = "adaptive sparse attention kernels for long context language models"
    short_query = "kernel thinning"
    with_it = [h.id for h in service.search(long_query, limit=10).hits]
    hits = service.search(short_query, limit=10).hits
    service.searcher.rerank = 0
    try:
        without = [h.id for h in service.search(long_query, limit=10).hits]
    finally:
        service.searcher.rerank = service.settings.rerank_candidates
    assert with_it == without
    assert "Generalized Kernel Thinning" in [h.title for h in hits]
    assert len({h.id for h in hits}) == len(hits) == 10
    assert all(h.matched_terms and "<mark>" in h.snippet + h.title_snippet for h in hits[:3])


def test_an_exact_title_ranks_first(service: Paperboy) -> None:
    title = "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    for mode in MODES:
        top = service.search(title.lower(), mode=mode).hits[0]
        assert (top.id, top.match) == ("0704.0001", "title")
    assert service.search(title, filters=Filters(category="cs.LG")).hits[0].id != "0704.0001"


@pytest.mark.parametrize("query", [
    "2202.12139", "arXiv:2202.12139v1", "https://arxiv.org/abs/2202.12139v1",
    "https://arxiv.org/pdf/2202.12139", "10.1109/ICSTW55395.2022.00035"])
def test_a_pasted_id_url_or_doi_goes_straight_to_the_paper(service: Paperboy, query: str) -> None:
    (hit,) = service.search(query).hits
    assert (hit.id, hit.match) == ("2202.12139", "id")


def test_unknown_ids_empty_queries_and_bad_modes_get_clear_answers(service: Paperboy) -> None:
    result = service.search("2501.99999")
    assert result.hits == [] and "No paper with id '2501.99999'" in result.notices[0]
    with pytest.raises(PaperNotFound):
        service.similar("2501.99999")
    for blank in ("", "   ", "?!.,;"):
        assert "Type some words" in service.search(blank).notices[0]
    with pytest.raises(ValueError, match="unknown search mode"):
        service.search("kernel", mode="fuzzy")  # type: ignore[arg-type]


def test_filters_apply_inside_each_retriever(service: Paperboy) -> None:
    physics = Filters(category="HEP-PH")  # any case, as the local index
    allowed = service.store.ids_matching(physics)
    assert 3 <= len(allowed) < 50
    for mode in MODES:
        hits = service.search("the production of particles", mode=mode, filters=physics,
                              limit=100).hits
        assert hits and {h.id for h in hits} <= allowed, mode
        semantic = service.search("anything at all", mode="semantic", filters=physics,
                                  limit=1000).hits
        assert {h.id for h in semantic} == allowed  # not cut before filtering
        with_code = service.search("kernel", mode=mode, filters=Filters(has_code=True),
                                   limit=100).hits
        assert with_code and all(h.links["code"] for h in with_code)
        without = service.search("kernel", mode=mode, filters=Filters(has_code=False),
                                 limit=100).hits
        assert without and not any(h.links["code"] for h in without)
        window = Filters(date_from=date(2022, 1, 1), date_to=date(2023, 12, 31))
        dated = service.search("learning", mode=mode, filters=window, limit=100).hits
        assert dated and all("2022-01-01" <= h.published <= "2023-12-31" for h in dated)
        assert {h.id for h in dated} <= service.store.ids_matching(window)
        assert not service.search("kernel", mode=mode, filters=Filters(
            category='cs.LG" or true or "'), limit=100).hits


def test_similar_uses_the_stored_vector_and_never_returns_the_paper(service: Paperboy) -> None:
    result = service.similar("0704.0001", limit=5)
    assert len(result.hits) == 5 and result.notices == []
    assert "0704.0001" not in {h.id for h in result.hits}
    assert all(h.similarity is not None for h in result.hits)
    assert [h.semantic_rank for h in result.hits] == [1, 2, 3, 4, 5]
    physics = service.store.ids_matching(Filters(category="hep-ph"))
    near = service.similar("0704.0001", limit=100, filters=Filters(category="hep-ph")).hits
    assert {h.id for h in near} == physics - {"0704.0001"}


@pytest.mark.parametrize("mode", MODES)
def test_pages_follow_each_other_without_repeats(service: Paperboy, mode: str) -> None:
    first = [h.id for h in service.search("kernel", limit=10, mode=mode).hits]
    second = [h.id for h in service.search("kernel", limit=10, offset=10, mode=mode).hits]
    both = [h.id for h in service.search("kernel", limit=20, mode=mode).hits]
    assert len(first) == len(second) == 10 and first + second == both


@pytest.mark.parametrize("query", [
    '"sparse attention', "title:foo (bar^2 ~baz* AND NOT", "a:b", "[1 TO 2]", "x" * 10_000,
    "kernel " * 2000, "\x00\x01", "<script>alert(1)</script>", "id == 'x' or true",
    'text_match(words, "a")', "héllo wörld Schölkopf",
])
def test_hostile_queries_give_results_or_a_message(service: Paperboy, query: str) -> None:
    for mode in MODES:
        result = service.search(query, mode=mode)
        for hit in result.hits:
            assert "<script>" not in hit.snippet and "<script>" not in hit.title_snippet
    assert service.search('"sparse attention" flash', mode="lexical").hits


def test_a_quoted_phrase_needs_all_its_words(service: Paperboy) -> None:
    hits = service.search('"sparse flash attention"', mode="lexical", limit=50).hits
    assert hits and hits[0].title.startswith("AdaSplash")
    for hit in hits:
        text = f"{hit.title} {service.paper(hit.id)['abstract']}".lower()
        assert all(word in text for word in ("sparse", "flash", "attention"))


# -- keeping in step with the store ------------------------------------------------------------


def test_papers_without_vectors_are_still_found_with_a_notice(
        fresh: Callable[..., Paperboy]) -> None:
    partial = fresh()
    partial.ingest([str(LISTING)])
    assert any("no paper has a vector yet" in n for n in partial.search("attention").notices)
    partial.embed(limit=50)
    result = partial.search("sparse flash attention")
    adasplash = next(h for h in result.hits if h.title.startswith("AdaSplash"))
    assert partial.store.embeddings.vector(adasplash.id, "hashing-64") is None
    assert adasplash.similarity is None and "flash" in adasplash.matched_terms
    assert any("144 of 194 papers have no vector yet" in n for n in result.notices)
    lexical = partial.search("sparse flash attention", mode="lexical").hits
    assert lexical[0].id == adasplash.id


def test_search_degrades_to_words_when_the_model_is_unavailable(
        fresh: Callable[..., Paperboy]) -> None:
    broken = fresh(BrokenEmbedder())
    broken.ingest([str(LISTING)])
    for mode in MODES:
        result = broken.search("sparse flash attention", mode=mode)
        assert result.hits and result.hits[0].title.startswith("AdaSplash")
        assert any("words only" in n for n in result.notices) or mode == "lexical"


def test_similar_without_a_vector_falls_back_to_shared_words(
        fresh: Callable[..., Paperboy]) -> None:
    words = fresh()
    words.ingest([str(LISTING)])
    paper = words.search("Generalized Kernel Thinning").hits[0]
    result = words.similar(paper.id, limit=5)
    assert "no vector" in result.notices[0]
    assert result.hits and paper.id not in {h.id for h in result.hits}
    assert any("kernel" in h.title.lower() for h in result.hits)


def test_ingest_keeps_the_index_in_step_with_the_store(fresh: Callable[..., Paperboy],
                                                       tmp_path: Path) -> None:
    service = fresh()
    service.ingest([str(LISTING), str(FIXTURES / "arxiv_api_query.xml")])
    assert not service.search("Luttinger liquid helium nanopores", mode="lexical").hits
    service.ingest([str(FIXTURES / "arxiv_api_query_legacy.xml")])
    hit = service.search("Luttinger liquid helium nanopores", mode="lexical").hits[0]
    assert hit.id == "1201.4869"
    # a newer version of a stored paper, and listing papers that now get an arXiv id
    newer = (FIXTURES / "arxiv_api_query.xml").read_text().replace(
        "2202.12139v1", "2202.12139v2")
    (tmp_path / "v2.xml").write_text(newer)
    service.ingest([str(tmp_path / "v2.xml"), str(FIXTURES / "arxiv_kaggle_snapshot.jsonl")])
    assert _indexed(service) == service.stats()["papers"]
    hits = service.search("2202.12139 testing deep learning", mode="lexical", limit=500).hits
    assert len({h.id for h in hits}) == len(hits)


def test_reindex_rebuilds_from_the_store(fresh: Callable[..., Paperboy]) -> None:
    service = fresh()
    service.ingest(SOURCES)
    service.embed()
    before = [(h.id, h.score) for h in service.search("kernel methods").hits]
    papers = service.stats()["papers"]
    assert service.reindex() == {"lexical": papers, "vectors": papers}
    assert service.reindex() == {"lexical": papers, "vectors": papers}  # idempotent
    after = [(h.id, h.score) for h in service.search("kernel methods").hits]
    assert [i for i, _ in after] == [i for i, _ in before]


def test_changing_the_model_rebuilds_the_index_cleanly(fresh: Callable[..., Paperboy]) -> None:
    first = fresh()
    first.ingest([str(LISTING)])
    first.embed()
    first.close()
    second = fresh(HashingEmbedder(dim=32))
    summary = second.embed()
    assert (summary.dropped, summary.embedded) == (194, 194)
    result = second.search("kernel thinning", mode="semantic")
    assert result.hits and result.notices == []
    assert second.similar(result.hits[0].id).hits


# -- Milvus only -------------------------------------------------------------------------------


def test_an_interrupted_milvus_refill_resumes_where_it_stopped(tmp_path: Path) -> None:
    service = _open("milvus", tmp_path)
    for source in reversed(SOURCES):  # four ingest runs: four change times to resume between
        service.ingest([source])
    service.embed()
    papers = service.stats()["papers"]
    collection = service.searcher.collection  # type: ignore[union-attr]
    collection.recreate()
    with pytest.raises(KeyboardInterrupt):
        reindex_milvus(service.store, collection, StopAfter(2), batch_size=20)
    assert 0 < collection.count() < papers
    resumed = StopAfter(1000)
    counts = reindex_milvus(service.store, collection, resumed, batch_size=20)
    assert counts == {"lexical": papers, "vectors": papers}
    assert resumed.seen[-1] < papers  # it did not start again from the first paper
    assert service.search("kernel thinning").hits[0].title == "Generalized Kernel Thinning"
    _release(service)


def test_a_milvus_collection_of_another_model_is_rebuilt_not_mixed(tmp_path: Path) -> None:
    service = _open("milvus", tmp_path)
    service.ingest([str(LISTING)])
    service.embed()
    service.close()
    other = _open("milvus", tmp_path, HashingEmbedder(dim=32))
    collection = other.searcher.collection  # type: ignore[union-attr]
    assert (collection.model, collection.dim) == ("hashing-32", 32)
    assert "hashing-64" in (collection.rebuilt_reason or "")
    assert collection.count() == 194 and collection.count("has_vector == true") == 0
    assert other.search("kernel thinning").hits  # by words until `embed`
    _release(other)


def test_milvus_vectors_honour_the_vector_index_protocol(tmp_path: Path) -> None:
    service = _open("milvus", tmp_path)
    service.ingest([str(LISTING)])
    service.embed(limit=20)
    index = service.searcher.vectors()  # type: ignore[union-attr]
    assert isinstance(index, VectorIndex) and (index.model, index.dim) == ("hashing-64", 64)
    embedded = service.store.embeddings.ids("hashing-64")
    assert len(index) == 20 and index.ids() == embedded
    some = sorted(embedded)[:5]
    vector = index.vector(some[0])
    assert vector is not None and index.vector(next(iter(
        set(service.store.ids_matching(Filters())) - embedded))) is None
    found = index.search(vector, limit=3, allowed=some, exclude={some[1]})
    assert found[0] == (some[0], pytest.approx(1.0, abs=1e-5))
    assert {i for i, _ in found} <= set(some) - {some[1]}
    assert index.search(vector, limit=3, allowed=set()) == []
    index.remove([some[0], "gone"])
    assert len(index) == 19 and index.vector(some[0]) is None
    assert service.search(service.paper(some[0])["title"], mode="lexical").hits[0].id == some[0]
    _release(service)


@pytest.fixture(scope="module")
def milvus_with_the_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paperboy]:
    """The listing on Milvus Lite, embedded with the real all-MiniLM-L6-v2 (about 30 s)."""
    folder = tmp_path_factory.mktemp("milvus-quality")
    _open("milvus", folder).close()  # skips without Milvus Lite
    service = Paperboy(make_settings(folder / "home", milvus_uri=str(folder / "milvus.db")))
    service.ingest([str(LISTING)])
    assert service.embed().embedded == 194
    yield service
    _release(service)


def test_milvus_fuses_as_the_local_path_and_meets_its_floors(
        milvus_with_the_model: Paperboy) -> None:
    # Milvus' own BM25 function reads one field (title twice, abstract, authors), so its words
    # score apart from the local index's; the fusion is the same (fuse.hybrid_ranking), and
    # hybrid holds to floors near the local ones: 0.969 / 0.866 when written (local .977 / .879).
    # On dev, Milvus' words alone (0.9695) are as good as its hybrid: the second look by
    # passages (index/passages.py) moved three of its 28 queries a swap lower (0.976 without),
    # so hybrid is held over its parts on the 80 queries of dev2
    floors = {"dev": {"hybrid": 0.96, "lexical": 0.95, "semantic": 0.92},
              "dev2": {"hybrid": 0.85, "lexical": 0.82, "semantic": 0.73}}
    for name, floor in floors.items():
        qrels = json.loads((SHARED / "eval" / f"{name}_qrels.json").read_text())
        ndcg = {}
        for mode in floor:
            runs = {q["query"]: [h.title for h in milvus_with_the_model.search(
                q["query"], limit=10, mode=mode).hits] for q in qrels}
            ndcg[mode] = bench_quality().per_type(qrels, runs)["all"]
        print(f"Milvus {name} nDCG@10: {json.dumps(ndcg)}")
        assert all(ndcg[mode] >= floor[mode] for mode in floor), (name, ndcg)
        if name == "dev2":
            assert ndcg["hybrid"] > max(ndcg["lexical"], ndcg["semantic"]), (name, ndcg)
