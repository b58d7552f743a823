"""Search, similar papers and embedding through the service, on both databases.

The embedder here is the package's deterministic `HashingEmbedder` (the seam for tests); the real
model is exercised by test_search_quality.py and test_embed.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, LISTING, NOW, PAPER_FIXTURES, make_settings

from paperboy.embed import EmbedderUnavailable, HashingEmbedder
from paperboy.index.hybrid import PaperNotFound
from paperboy.models import Filters, PaperRecord
from paperboy.service import Paperboy

SOURCES = [str(LISTING), str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"),
           str(FIXTURES / "arxiv_api_query.xml"), str(FIXTURES / "hf_daily_papers.json")]


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(tmp_path / "home", database_url),
                        embedder=HashingEmbedder(dim=64))
    paperboy.ingest(SOURCES)
    paperboy.embed()
    yield paperboy
    paperboy.close()


class BrokenEmbedder(HashingEmbedder):
    def embed(self, texts):  # type: ignore[no-untyped-def]
        raise EmbedderUnavailable("model 'nowhere' could not be loaded")


def test_hits_carry_their_explanations(service: Paperboy) -> None:
    result = service.search("kernel thinning distribution compression", limit=5)
    assert result.notices == []
    top = result.hits[0]
    assert top.title == "Generalized Kernel Thinning"
    assert top.lexical_rank is not None and top.semantic_rank is not None
    assert "kernel" in top.matched_terms and "thinning" in top.matched_terms
    assert "<mark>" in top.snippet + top.title_snippet
    assert -1.0 <= top.similarity <= 1.0
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_modes_differ_and_semantic_finds_papers_without_the_word(service: Paperboy) -> None:
    lexical = service.search("kernels", mode="lexical", limit=50)
    semantic = service.search("kernels", mode="semantic", limit=50)
    assert all(h.semantic_rank is None for h in lexical.hits)
    assert all(h.lexical_rank is None and h.similarity is not None for h in semantic.hits)
    assert {h.id for h in lexical.hits} != {h.id for h in semantic.hits}


@pytest.mark.parametrize("query", [
    "2202.12139", "arXiv:2202.12139v1", "https://arxiv.org/abs/2202.12139v1",
    "https://arxiv.org/pdf/2202.12139", "10.1109/ICSTW55395.2022.00035"])
def test_a_pasted_id_url_or_doi_goes_straight_to_the_paper(service: Paperboy, query: str) -> None:
    (hit,) = service.search(query).hits
    assert (hit.id, hit.match) == ("2202.12139", "id")


def test_unknown_id_says_not_found(service: Paperboy) -> None:
    result = service.search("2501.99999")
    assert result.hits == [] and "No paper with id '2501.99999'" in result.notices[0]
    with pytest.raises(PaperNotFound):
        service.similar("2501.99999")


def test_an_exact_title_ranks_first(service: Paperboy) -> None:
    title = "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    for mode in ("hybrid", "lexical", "semantic"):
        top = service.search(title.lower(), mode=mode).hits[0]
        assert (top.id, top.match) == ("0704.0001", "title")


def test_filters_apply_inside_each_retriever(service: Paperboy) -> None:
    physics = Filters(category="hep-ph")
    allowed = service.store.ids_matching(physics)
    assert 3 <= len(allowed) < 50
    for mode in ("hybrid", "lexical", "semantic"):
        hits = service.search("the production of particles", mode=mode, filters=physics,
                              limit=100).hits
        assert hits and {h.id for h in hits} <= allowed
        assert all("hep-ph" in h.categories for h in hits)
    code = service.search("kernel", filters=Filters(has_code=True), limit=100).hits
    assert code and all(h.links["code"] for h in code)
    dated = service.search("learning", filters=Filters(date_from=date(2022, 1, 1)), limit=100)
    assert dated.hits and all(h.published >= "2022-01-01" for h in dated.hits)


def test_semantic_results_are_not_cut_before_filtering(service: Paperboy) -> None:
    only = Filters(category="hep-ph")
    allowed = service.store.ids_matching(only)
    hits = service.search("anything at all", mode="semantic", filters=only, limit=1000).hits
    assert {h.id for h in hits} == allowed


def test_search_degrades_to_words_when_the_model_is_unavailable(tmp_path: Path) -> None:
    broken = Paperboy(make_settings(tmp_path / "home"), embedder=BrokenEmbedder())
    broken.ingest([str(LISTING)])
    result = broken.search("sparse flash attention")
    assert result.hits and result.hits[0].title.startswith("AdaSplash")
    assert any("words only" in n for n in result.notices)
    broken.close()


def test_papers_without_vectors_are_still_found_with_a_notice(tmp_path: Path) -> None:
    partial = Paperboy(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64))
    partial.ingest([str(LISTING)])
    assert any("no paper has a vector yet" in n for n in partial.search("attention").notices)
    partial.embed(limit=50)
    result = partial.search("sparse flash attention")
    adasplash = next(h for h in result.hits if h.title.startswith("AdaSplash"))
    assert partial.store.embeddings.vector(adasplash.id, "hashing-64") is None
    assert (adasplash.lexical_rank, adasplash.semantic_rank) == (1, None)
    assert any("144 of 194 papers have no vector yet" in n for n in result.notices)
    partial.close()


def test_embedding_serves_the_newest_papers_first_and_resumes_where_it_stopped(
        tmp_path: Path, database_url: str) -> None:
    partial = Paperboy(make_settings(tmp_path / "home", database_url, embed_batch_size=7),
                       embedder=HashingEmbedder(dim=64))
    partial.ingest([str(f) for f in PAPER_FIXTURES])
    papers = partial.store.papers_by_ids(sorted(partial.store.ids_matching(Filters())))
    # newest first, the undated last, ties by id, descending (as listings show them)
    by_id = sorted(papers.values(), key=lambda p: p["id"], reverse=True)
    expected = sorted(by_id, key=lambda p: (
        p["published"] is None, -(p["published"].timestamp() if p["published"] else 0)))
    order = [p["id"] for p in expected]
    assert papers[order[0]]["published"] is not None and papers[order[-1]]["published"] is None

    def embedded() -> set[str]:
        return {i for i in order if partial.store.embeddings.vector(i, "hashing-64") is not None}

    assert partial.embed(limit=40).embedded == 40  # six batches, each continuing the last
    assert embedded() == set(order[:40])
    assert partial.embed(limit=100).embedded == 100  # a later run: the next newest
    assert embedded() == set(order[:140])
    summary = partial.embed()
    assert (summary.embedded, summary.remaining) == (len(order) - 140, 0)
    partial.close()


def test_similar_uses_the_stored_vector_and_never_returns_the_paper(service: Paperboy) -> None:
    result = service.similar("0704.0001", limit=5)
    assert len(result.hits) == 5 and result.notices == []
    assert "0704.0001" not in {h.id for h in result.hits}
    assert all(h.similarity is not None for h in result.hits)


def test_similar_without_a_vector_falls_back_to_shared_words(tmp_path: Path) -> None:
    words = Paperboy(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64))
    words.ingest([str(LISTING)])
    paper = words.search("Generalized Kernel Thinning").hits[0]
    result = words.similar(paper.id, limit=5)
    assert "no vector" in result.notices[0]
    assert result.hits and paper.id not in {h.id for h in result.hits}
    assert any("kernel" in h.title.lower() for h in result.hits)
    words.close()


def test_changing_the_model_re_embeds_cleanly(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path / "home", database_url)
    first = Paperboy(settings, embedder=HashingEmbedder(dim=64))
    first.ingest([str(LISTING)])
    first.embed()
    first.close()
    second = Paperboy(settings, embedder=HashingEmbedder(dim=32))
    summary = second.embed()
    assert (summary.dropped, summary.embedded) == (194, 194)
    assert second.stats()["embedded"] == 194
    assert second.store.embeddings.dim("hashing-32") == 32
    assert second.store.embeddings.count("hashing-64") == 0
    assert second.search("kernel thinning", mode="semantic").hits
    second.close()


def test_new_papers_are_searchable_by_words_right_after_ingest(service: Paperboy) -> None:
    assert not service.search("Luttinger liquid helium nanopores", mode="lexical").hits
    service.ingest([str(FIXTURES / "arxiv_api_query_legacy.xml")])
    hit = service.search("Luttinger liquid helium nanopores", mode="lexical").hits[0]
    assert hit.id == "1201.4869"


def test_papers_another_writer_stored_meanwhile_are_indexed_by_the_next_ingest(
        service: Paperboy) -> None:
    walrus = PaperRecord(source="kaggle", position="line 1", arxiv_id="2611.00001",
                         title="Walrus echolocation under sea ice", abstract="Clicks and whistles.")
    with service.store.transaction() as conn:  # as another process would: the index untouched
        service.store.write(conn, [walrus], datetime.now(UTC))
    service.ingest([str(FIXTURES / "arxiv_api_query_legacy.xml")])
    assert [h.id for h in service.search("walrus echolocation", mode="lexical").hits] == [
        "2611.00001"]
    assert service.search("Luttinger liquid helium nanopores", mode="lexical").hits
    assert service.lexical.count() == service.stats()["papers"]


def test_search_works_while_another_process_holds_the_word_index(service: Paperboy) -> None:
    walrus = PaperRecord(source="kaggle", position="line 1", arxiv_id="2611.00001",
                         title="Walrus echolocation under sea ice")
    with service.store.transaction() as conn:
        service.store.write(conn, [walrus], datetime.now(UTC))
    second = Paperboy(service.settings, embedder=HashingEmbedder(dim=64))
    with service.lexical.writer():  # e.g. a long ingest in another process
        assert second.search("kernel thinning", mode="lexical").hits
    second.close()
    service.ingest([])
    assert service.search("walrus echolocation", mode="lexical").hits


def test_a_replica_finds_by_words_what_another_process_stored(service: Paperboy,
                                                             tmp_path: Path) -> None:
    replica = Paperboy(make_settings(tmp_path / "replica", service.settings.store_url),
                       embedder=HashingEmbedder(dim=64))
    assert replica.search("kernel thinning", mode="lexical").hits  # its own word index
    service.ingest([str(FIXTURES / "arxiv_api_query_legacy.xml")])
    assert not replica.search("Luttinger liquid helium nanopores", mode="lexical").hits
    assert replica.catch_up() >= 1
    assert replica.search("Luttinger liquid helium nanopores",
                          mode="lexical").hits[0].id == "1201.4869"
    replica.close()


def test_reindex_rebuilds_from_the_store(service: Paperboy) -> None:
    before = [h.id for h in service.search("kernel methods").hits]
    counts = service.reindex()
    papers = service.stats()["papers"]
    assert counts == {"lexical": papers, "vectors": papers}
    assert [h.id for h in service.search("kernel methods").hits] == before


@pytest.mark.parametrize("query", [
    "", "   ", "?!.,;", '"sparse attention', "title:foo (bar^2 ~baz* AND NOT", "a:b",
    "[1 TO 2]", "x" * 10_000, "kernel " * 2000, "\x00\x01", "<script>alert(1)</script>",
])
def test_hostile_queries_give_results_or_a_message(service: Paperboy, query: str) -> None:
    for mode in ("hybrid", "lexical", "semantic"):
        result = service.search(query, mode=mode)
        assert result.hits or result.notices or query.strip() not in ("", "?!.,;")
        for hit in result.hits:
            assert "<script>" not in hit.snippet and "<script>" not in hit.title_snippet


def test_pagination_does_not_repeat_papers(service: Paperboy) -> None:
    first = [h.id for h in service.search("kernel", limit=10).hits]
    second = [h.id for h in service.search("kernel", limit=10, offset=10).hits]
    assert len(first) == len(second) == 10 and not set(first) & set(second)


def test_word_index_holds_each_paper_once_after_updates_and_an_interrupted_pass(
        service: Paperboy, tmp_path: Path) -> None:
    assert service.lexical.count() == service.stats()["papers"]
    # A newer version of a stored paper, and a listing paper that now gets an arXiv id.
    newer = (FIXTURES / "arxiv_api_query.xml").read_text().replace(
        "2202.12139v1", "2202.12139v2")
    (tmp_path / "v2.xml").write_text(newer)
    service.ingest([str(tmp_path / "v2.xml")])
    assert service.lexical.count() == service.stats()["papers"]
    (service.lexical.path / "sync-pending").touch()  # as if a pass died after a commit
    service.ingest([str(FIXTURES / "arxiv_kaggle_snapshot.jsonl"), str(tmp_path / "v2.xml")])
    assert service.lexical.count() == service.stats()["papers"]
    assert len(service.search("2202.12139 testing deep learning", mode="lexical").hits) >= 1


def test_hits_with_equal_scores_come_in_id_order(tmp_path: Path) -> None:
    """However the index was written (a resumed ingest writes its segments differently)."""
    twins = Paperboy(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64))
    for arxiv_id in ("2601.00009", "2601.00003", "2601.00005"):  # written out of id order
        with twins.store.transaction() as conn:
            twins.store.write(conn, [PaperRecord(
                source="arxiv_api", position="entry 1", arxiv_id=arxiv_id,
                title="Identical twins of a paper", abstract="The very same words.")], NOW)
    twins.catch_up()
    hits = twins.search("identical twins", mode="lexical").hits
    assert len({h.score for h in hits}) == 1
    assert [h.id for h in hits] == ["2601.00003", "2601.00005", "2601.00009"]
    twins.close()


def test_equal_scores_across_a_page_edge_keep_id_order_on_every_page(tmp_path: Path) -> None:
    """Words alone read just the page and one more; a tie at the page's edge reads deeper."""
    twins = Paperboy(make_settings(tmp_path / "home"), embedder=HashingEmbedder(dim=64))
    ids = [f"2601.{n:05d}" for n in range(25, 0, -1)]  # written out of id order
    for arxiv_id in ids:
        with twins.store.transaction() as conn:
            twins.store.write(conn, [PaperRecord(
                source="arxiv_api", position="entry 1", arxiv_id=arxiv_id,
                title="Identical twins of a paper", abstract="The very same words.")], NOW)
        twins.catch_up()  # a segment each
    first = twins.search("identical twins", mode="lexical", limit=20)
    second = twins.search("identical twins", mode="lexical", limit=20, offset=20)
    assert [h.id for h in first.hits + second.hits] == sorted(ids)
    assert first.total == 25 and second.total == 25
    twins.close()
