"""What a search says and understands: honest answers to junk, typos named as such, clean
LaTeX text, and the query operators people type (on the web, the API and the CLI alike).

Papers come from the recorded fixtures; vectors from the deterministic `HashingEmbedder`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NOW, PAPER_FIXTURES, make_settings
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.clock import FixedClock
from paperboy.embed import HashingEmbedder
from paperboy.index.lexical import LexicalIndex
from paperboy.index.lexical_query import adjacent_pairs, parse_user_query, proximity_pairs
from paperboy.service import Paperboy
from paperboy.sources._text import tex_text
from paperboy.web.app import create_app

MODES = ("hybrid", "lexical", "semantic")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("syntax") / "home"
    latex = home.parent / "latex.jsonl"
    latex.write_text(json.dumps({
        "id": "2601.00001", "title": r"\textbf{L}atent \textup{\textsc{Warp}}: Self\mbox{-}Tuning "
        r"Diffusion -- Fast", "abstract": r"We study \emph{latent} warping of $\mathbf{x}_t$ "
        r"for diffusion models -- see R\&D notes after R\'ev\'esz.",
        "authors": "Ada Lovelace, Alan Turing",
        "categories": "cs.LG", "update_date": "2026-01-05",
        "versions": [{"version": "v1", "created": "Mon, 5 Jan 2026 10:00:00 GMT"}]}) + "\n")
    service = Paperboy(make_settings(home, embedding_model="hashing-64"),
                       embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    service.ingest([str(p) for p in PAPER_FIXTURES] + [str(latex)])
    service.embed()
    service.close()
    return home


@pytest.fixture
def service(home: Path) -> Iterator[Paperboy]:
    paperboy = Paperboy(make_settings(home, embedding_model="hashing-64"),
                        embedder=HashingEmbedder(dim=64), clock=FixedClock(NOW))
    yield paperboy
    paperboy.close()


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_query_no_paper_matches_says_so(service: Paperboy, mode: str) -> None:
    result = service.search("zzqqxxyy", mode=mode)  # type: ignore[arg-type]
    assert result.hits == []
    assert any(n.startswith("No paper matches “zzqqxxyy”") for n in result.notices)


def test_a_typo_hit_names_the_stored_word_it_matched(service: Paperboy) -> None:
    for mode in ("hybrid", "lexical"):
        hits = service.search("flash attnetion", mode=mode, limit=10).hits  # type: ignore[arg-type]
        assert hits
        for hit in hits:
            assert "attnetion" not in hit.matched_terms
        near = [h for h in hits if "close to: attention" in h.matched_terms]
        assert near and "<mark>Attention</mark>" in near[0].title_snippet


def test_stop_words_are_neither_marked_nor_listed(service: Paperboy) -> None:
    hits = service.search("the thinning of the kernel", mode="lexical", limit=5).hits
    assert hits[0].title == "Generalized Kernel Thinning"
    for hit in hits:
        assert not {"the", "of"} & set(hit.matched_terms)
        assert "<mark>the</mark>" not in (hit.snippet + hit.title_snippet).lower()
        assert "<mark>of</mark>" not in (hit.snippet + hit.title_snippet).lower()


def test_adjacent_words_score_as_pairs_but_never_two_stop_words() -> None:
    # the phrase clauses of a query: adjacent words, a stop word beside a content word too
    # ("effect of"), never two stop words ("of the"), which are in every paper
    assert proximity_pairs(["tensor", "cores"]) == [("tensor", "core")]
    assert proximity_pairs(["effect", "of", "self", "distillation"]) == [
        ("effect", "of"), ("of", "self"), ("self", "distil")]
    assert proximity_pairs(["on", "the", "existence"]) == [("the", "exist")]
    assert proximity_pairs(["in", "the", "of", "a"]) == []


def test_papers_index_the_pairs_queries_ask_for_and_adjacency_ranks(tmp_path: Path) -> None:
    # what a paper indexes is what a query asks for: the same stems, no two stop words
    assert adjacent_pairs("The effect of self-distillation on Tensor Cores") == \
        "the_effect effect_of of_self self_distil distil_on on_tensor tensor_core"
    assert adjacent_pairs("in the of a") == ""
    index = LexicalIndex.open(tmp_path / "lexical")
    filler = "We measure throughput on many devices and report it. "
    index.upsert([
        {"id": "apart", "title": "Cores of the tensor", "abstract": filler + "A tensor of cores."},
        {"id": "adjacent", "title": "Tensor cores", "abstract": filler + "Of the a cores."}])
    assert [hit.id for hit in index.search("tensor cores")] == ["adjacent", "apart"]


def test_latex_text_macros_are_resolved_before_indexing_and_showing() -> None:
    assert tex_text(r"\textbf{L}atent \textup{\textsc{X}} a\mbox{-}b \emph{c} -- d") == \
        "Latent X a-b c – d"
    assert tex_text(r"keep $\textbf{x}--y$ math") == r"keep $\textbf{x}--y$ math"
    # accents and named letters, as arXiv abstracts write authors' names
    assert tex_text(r"after R\'ev\'esz, Erd\H{o}s and G\"{o}del: \'{\i}, Ko\c{c}") == \
        "after Révész, Erdős and Gödel: í, Koç"
    assert tex_text(r"{\o}ksendal, Stra\ss e, \L{}ukasz, $\oe + \'x$") == \
        r"øksendal, Straße, Łukasz, $\oe + \'x$"
    assert tex_text(r"\label{x} \oint") == r"\label{x} \oint"  # not letters: left alone


def test_a_latex_title_is_stored_clean_and_found_by_its_words(service: Paperboy,
                                                              home: Path) -> None:
    paper = service.paper("2601.00001")
    assert paper is not None
    assert paper["title"] == "Latent Warp: Self-Tuning Diffusion – Fast"
    assert paper["abstract"].startswith(r"We study latent warping of $\mathbf{x}_t$ for")
    assert "R&D" in paper["abstract"] and "after Révész." in paper["abstract"]
    hit = service.search("latent warp", mode="lexical").hits[0]
    assert hit.id == "2601.00001" and "<mark>Latent</mark> <mark>Warp</mark>" in hit.title_snippet
    with TestClient(create_app(service)) as web:
        page = web.get("/papers/2601.00001").text
        feed = web.get("/feeds/search.xml", params={"q": "latent warp"}).text
    assert "Latent Warp: Self-Tuning Diffusion" in page and "textbf" not in page
    assert "textbf" not in feed and "Latent Warp" in feed
    out = CliRunner().invoke(app, ["--home", str(home), "search", "latent warp", "--json",
                                   "--mode", "lexical"],
                             env={"PAPERBOY_EMBEDDING_MODEL": "hashing-64",
                                  "PAPERBOY_DATABASE_URL": ""}).stdout
    assert json.loads(out)[0]["title"] == "Latent Warp: Self-Tuning Diffusion – Fast"


def test_the_query_operators_parse_and_unknown_fields_are_words() -> None:
    parsed = parse_user_query('kernel -thinning "sparse attention" au:"Tri Dao" ti:flash '
                              'cat:cs.LG year:2023-2025 foo:bar')
    assert parsed.terms == ["kernel", "foo", "bar"]
    assert parsed.phrases == ["sparse attention"] and parsed.excluded == ["thinning"]
    assert parsed.authors == ["Tri Dao"] and parsed.titles == ["flash"]
    assert parsed.category == "cs.LG" and parsed.years == (2023, 2025)
    assert parse_user_query("year:20x5").terms == ["year", "20x5"]
    assert parse_user_query("self-supervised").terms == ["self", "supervised"]


@pytest.mark.parametrize("mode", MODES)
def test_excluded_words_leave_every_result(service: Paperboy, mode: str) -> None:
    plain = service.search("kernel", mode=mode, limit=50).hits  # type: ignore[arg-type]
    assert any("thinning" in (h.title + h.snippet).lower() for h in plain)
    hits = service.search("kernel -thinning", mode=mode, limit=50).hits  # type: ignore[arg-type]
    assert hits
    for hit in hits:
        paper = service.paper(hit.id)
        assert paper is not None and "thinning" not in (paper["title"] + paper["abstract"]).lower()


@pytest.mark.parametrize("mode", MODES)
def test_author_title_category_and_year_operators(service: Paperboy, mode: str) -> None:
    by_author = service.search("diffusion au:lovelace", mode=mode).hits  # type: ignore[arg-type]
    assert [h.id for h in by_author] == ["2601.00001"]
    titled = service.search("ti:testing mobile", mode=mode, limit=50).hits  # type: ignore[arg-type]
    assert titled and all("test" in h.title.lower() for h in titled)
    in_2025 = service.search("testing year:2025", mode=mode, limit=50).hits  # type: ignore[arg-type]
    assert in_2025 and all(h.published and h.published.startswith("2025") for h in in_2025)
    se = service.search("testing cat:cs.SE", mode=mode, limit=50).hits  # type: ignore[arg-type]
    assert se and all("cs.SE" in h.categories for h in se)


def test_newest_first_and_the_count_of_papers_holding_the_words(service: Paperboy) -> None:
    best = service.search("testing", mode="lexical", limit=50)
    newest = service.search("testing", mode="lexical", limit=50, sort="newest")
    assert best.total is not None and best.total >= len(best.hits) > 3
    assert {h.id for h in newest.hits} == {h.id for h in best.hits}
    dated = [h.published for h in newest.hits if h.published]
    assert dated == sorted(dated, reverse=True) and newest.sort == "newest"
    with TestClient(create_app(service)) as web:
        api = web.get("/api/search", params={"q": "testing", "sort": "newest"}).json()
        page = web.get("/search", params={"q": "testing", "sort": "newest"}).text
        assert web.get("/api/search", params={"q": "testing", "sort": "oldest"}).status_code \
            == 422
    assert api["sort"] == "newest" and api["total"] >= 4
    assert "papers hold its words" in page and "newest first" in page
    assert "Search syntax" in page and "year:2023-2025" in page
