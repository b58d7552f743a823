"""The tantivy lexical index: ranking, filters, typo tolerance, hostile input, its folder.

Papers come from the real listing corpus (194 papers, title and abstract only), plus a few made
here with authors, categories, dates and code links for the filters.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy
from conftest import SHARED, bench_quality

from paperboy.index.lexical import (
    LexicalIndex,
    LexicalIndexError,
    parse_user_query,
)
from paperboy.models import Filters, PaperRecord
from paperboy.sources.listing import parse


def _listing_papers() -> list[dict[str, Any]]:
    records = parse((SHARED / "corpus" / "listing_kernel_search.txt").read_bytes())
    return [_paper(f"p{i}", record.title, record.abstract, code=record.links.code)
            for i, record in enumerate(r for r in records if isinstance(r, PaperRecord))]


def _paper(paper_id: str, title: str, abstract: str, *, authors: list[str] | None = None,
           categories: list[str] | None = None, published: datetime | None = None,
           code: list[str] | None = None) -> dict[str, Any]:
    return {"id": paper_id, "arxiv_id": None, "doi": None, "title": title, "abstract": abstract,
            "authors": authors or [], "categories": categories or [], "published": published,
            "links": {"code": code or [], "abstract": None, "pdf": None, "project": None}}


class _Shelf(dict[str, dict[str, Any]]):
    """Papers by id, standing in for the store that the index asks for titles and abstracts."""

    def __call__(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        return {i: (self[i]["title"], self[i]["abstract"]) for i in ids if i in self}

    def add(self, index: LexicalIndex, papers: list[dict[str, Any]]) -> int:
        """Store the papers, then index them, as `paperboy ingest` does."""
        self.update((paper["id"], paper) for paper in papers)
        return index.upsert(papers)


def _open(path: Path, papers: list[dict[str, Any]]) -> LexicalIndex:
    shelf = _Shelf()
    index = LexicalIndex.open(path, texts=shelf)
    shelf.add(index, papers)
    return index


FILLER = ("We study how training dynamics evolve across many settings, datasets and model sizes, "
          "and report measurements of optimisation behaviour, generalisation gaps, calibration "
          "and robustness under distribution shift. ")


def _made_papers() -> list[dict[str, Any]]:
    """Papers that mention "kernel" once in long abstracts, so they rank below the listing's
    kernel papers: a filter applied after cutting the list to `limit` would lose them."""
    made = []
    for i in range(12):
        made.append(_paper(
            f"f{i:02d}", f"Study {i} of training dynamics",
            FILLER * 3 + "One experiment uses a kernel. " + FILLER * 3,
            categories=["stat.ML", "cs.LG"] if i % 2 == 0 else ["cs.CV"],
            published=datetime(2020, 1, 1, 12, tzinfo=UTC) + timedelta(days=30 * i),
            code=[f"https://github.com/example/study{i}"] if i % 3 == 0 else []))
    made += [
        _paper("h-authors", "Scalable Gaussian Processes for Large Data",
               "Inducing points make Gaussian process regression scale to millions of points.",
               authors=["Geoffrey Hinton", "Bernhard Schölkopf"], categories=["stat.ML"],
               published=datetime(2021, 3, 4, 23, 30, tzinfo=UTC)),
        _paper("h-xss", "Sanitising <b>bold</b> abstracts",
               "Abstracts may contain markup such as <script>alert(1)</script> & ampersands; "
               "a page that shows a sanitising search result must escape it."),
        _paper("h-title", "Quasicrystal Tilings of the Plane",
               "We study aperiodic tilings and their symmetries with combinatorial methods."),
        _paper("h-abstract", "Aperiodic Tilings of the Plane",
               "We study aperiodic tilings such as the quasicrystal with combinatorial methods."),
    ]
    return made


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> LexicalIndex:
    """The 194 listing papers alone, as the eval set judges them."""
    return _open(tmp_path_factory.mktemp("listing") / "lexical", _listing_papers())


@pytest.fixture(scope="module")
def papers() -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in _listing_papers() + _made_papers()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory,
          papers: dict[str, dict[str, Any]]) -> LexicalIndex:
    return _open(tmp_path_factory.mktemp("mixed") / "lexical", list(papers.values()))


def _titles(index: LexicalIndex, query: str, **options: Any) -> list[str]:
    titles = {p["id"]: p["title"] for p in _listing_papers()}
    return [titles[hit.id] for hit in index.search(query, **options)]


# -- the query parser --------------------------------------------------------------------------


def test_parse_keeps_words_and_balanced_phrases() -> None:
    parsed = parse_user_query('Sparse "flash attention" kernels')
    assert (parsed.terms, parsed.phrases) == (["sparse", "kernels"], ["flash attention"])


def test_parse_drops_an_unbalanced_quote() -> None:
    parsed = parse_user_query('"sparse attention')
    assert (parsed.terms, parsed.phrases) == (["sparse", "attention"], [])


def test_parse_strips_query_syntax_and_treats_operators_as_words() -> None:
    # tantivy's and Lucene's syntax is punctuation; Paperboy's own operators are in
    # test_search_syntax.py
    parsed = parse_user_query("field:foo (bar^2 ~baz* AND NOT [1 TO 2] +x a\\b/c!")
    assert parsed.terms == ["field", "foo", "bar", "2", "baz", "and", "not", "1", "to", "x",
                            "a", "b", "c"]
    assert parsed.phrases == []


def test_parse_of_punctuation_is_empty() -> None:
    assert parse_user_query('?!.,; "" ()').empty


def test_parse_keeps_the_first_64_distinct_words() -> None:
    parsed = parse_user_query(" ".join(f"w{i} w{i}" for i in range(1000)))
    assert parsed.terms == [f"w{i}" for i in range(64)]


# -- ranking -----------------------------------------------------------------------------------


def test_title_match_ranks_above_abstract_only_match(mixed: LexicalIndex) -> None:
    ids = [hit.id for hit in mixed.search("quasicrystal")]
    assert ids == ["h-title", "h-abstract"]


def test_stemming_finds_other_forms(listing: LexicalIndex) -> None:
    hits = listing.search("kernels", limit=200)
    titles = _titles(listing, "kernels", limit=200)
    assert "Generalized Kernel Thinning" in titles  # "Kernel", never "Kernels"
    assert all(hit.matched_terms == ["kernels"] for hit in hits)
    assert all("<mark>" in hit.title_snippet or "<mark>" in hit.snippet for hit in hits)


def test_quoted_phrase_matches_only_the_exact_phrase(listing: LexicalIndex,
                                                     papers: dict[str, Any]) -> None:
    loose = listing.search("sparse attention", limit=200)
    exact = listing.search('"sparse attention"', limit=200)
    assert exact and len(loose) > len(exact)
    for hit in exact:
        text = f"{papers[hit.id]['title']} {papers[hit.id]['abstract']}".lower()
        assert "sparse attention" in text
        assert hit.matched_terms == ["sparse attention"]
    phrase_papers = {pid for pid, p in papers.items() if pid.startswith("p")
                     and "sparse attention" in f"{p['title']} {p['abstract']}".lower()}
    assert {hit.id for hit in exact} == phrase_papers


def test_author_search(mixed: LexicalIndex) -> None:
    assert mixed.search("au:hinton")[0].id == "h-authors"
    assert mixed.search('"Geoffrey Hinton"')[0].id == "h-authors"
    # accents are folded, so the name can be typed on any keyboard
    assert [hit.id for hit in mixed.search("author:scholkopf")] == ["h-authors"]
    assert mixed.search("au:schölkopf")[0].matched_terms == ["author: schölkopf"]
    assert mixed.search("hinton") == []  # a free word is looked for in titles and abstracts


def test_typo_in_a_title_word_still_finds_the_paper(listing: LexicalIndex) -> None:
    assert _titles(listing, "Conditionaly Parameterized Convolutions")[0].startswith("CondConv")
    hits = listing.search("Conditionaly")  # no paper has the word as typed
    titles = _titles(listing, "Conditionaly")
    assert titles[0].startswith("CondConv: Conditionally")
    # the paper does not hold the typo: it says which stored word the typo matched
    assert hits[0].fuzzy and hits[0].matched_terms == ["close to: conditionally"]
    assert "<mark>Conditionally</mark>" in hits[0].title_snippet
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_exact_hits_come_before_typo_hits(listing: LexicalIndex) -> None:
    hits = listing.search("thinning")
    assert _titles(listing, "thinning")[0] == "Generalized Kernel Thinning"
    assert not hits[0].fuzzy
    assert all(hit.fuzzy for hit in hits[1:])


def test_offset_pages_through_the_same_ranking(listing: LexicalIndex) -> None:
    whole = listing.search("kernel methods", limit=15)
    page = listing.search("kernel methods", limit=5, offset=5)
    assert [hit.id for hit in page] == [hit.id for hit in whole[5:10]]
    assert [hit.rank for hit in page] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("query_set", ["dev", "dev2"])
def test_words_score_at_least_plain_bm25_on_every_query_type(listing: LexicalIndex,
                                                             query_set: str) -> None:
    bench = bench_quality()
    qrels = json.loads((SHARED / "eval" / f"{query_set}_qrels.json").read_text("utf-8"))
    records = bench.listing_records()
    plain, titles = bench.PlainBM25(records), [r["title"] for r in records]
    ours = bench.per_type(qrels, {q["query"]: _titles(listing, q["query"], limit=10)
                                  for q in qrels})
    theirs = bench.per_type(qrels, {q["query"]: [titles[i] for i in plain.search(q["query"], 10)]
                                    for q in qrels})
    print(f"{query_set} nDCG@10: words {ours}, plain BM25 {theirs}")
    assert all(ours[kind] >= theirs[kind] for kind in theirs), (ours, theirs)


# -- filters -----------------------------------------------------------------------------------


FILTER_CASES = {
    "category": (Filters(category="stat.ML"), lambda p: "stat.ML" in p["categories"]),
    "category in other case": (Filters(category="STAT.ml"),
                               lambda p: "stat.ML" in p["categories"]),
    "secondary category": (Filters(category="cs.LG"), lambda p: "cs.LG" in p["categories"]),
    "has code": (Filters(has_code=True), lambda p: bool(p["links"]["code"])),
    "has no code": (Filters(has_code=False), lambda p: not p["links"]["code"]),
    "date range": (Filters(date_from=date(2020, 3, 1), date_to=date(2020, 8, 28)),
                   lambda p: p["published"] is not None
                   and date(2020, 3, 1) <= p["published"].date() <= date(2020, 8, 28)),
    "from a day": (Filters(date_from=date(2020, 10, 28)),
                   lambda p: p["published"] is not None
                   and p["published"].date() >= date(2020, 10, 28)),
    "up to a day, inclusive": (Filters(date_to=date(2020, 3, 1)),
                               lambda p: p["published"] is not None
                               and p["published"].date() <= date(2020, 3, 1)),
    "combined": (Filters(category="stat.ML", has_code=True, date_from=date(2020, 1, 1)),
                 lambda p: "stat.ML" in p["categories"] and bool(p["links"]["code"])
                 and p["published"] is not None),
}


@pytest.mark.parametrize("case", FILTER_CASES)
def test_filters_return_exactly_the_matching_papers(case: str, mixed: LexicalIndex,
                                                    papers: dict[str, Any]) -> None:
    filters, keep = FILTER_CASES[case]
    everything = mixed.search("kernel", limit=1000)
    expected = [hit.id for hit in everything if keep(papers[hit.id])]
    assert expected, "the case should select some papers"
    assert [hit.id for hit in mixed.search("kernel", limit=1000, filters=filters)] == expected


def test_filtered_search_returns_limit_hits_when_many_match(mixed: LexicalIndex) -> None:
    unfiltered = [hit.id for hit in mixed.search("kernel", limit=5)]
    assert not any(i.startswith("f") for i in unfiltered)  # they rank low for "kernel"
    hits = mixed.search("kernel", limit=5, filters=Filters(category="cs.CV"))
    assert len(hits) == 5 and all(hit.id.startswith("f") for hit in hits)
    assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]


def test_filters_apply_to_typo_hits(mixed: LexicalIndex) -> None:
    hits = mixed.search("Conditionaly", filters=Filters(category="cs.CV"))
    assert hits == []


def test_the_day_bounds_are_utc_days(mixed: LexicalIndex) -> None:
    day = Filters(date_from=date(2021, 3, 4), date_to=date(2021, 3, 4))  # 23:30 UTC that day
    assert [hit.id for hit in mixed.search("gaussian", filters=day)] == ["h-authors"]
    next_day = Filters(date_from=date(2021, 3, 5))
    assert mixed.search("gaussian", filters=next_day) == []


# -- snippets ----------------------------------------------------------------------------------


def test_snippets_are_escaped_and_marked(mixed: LexicalIndex) -> None:
    hit = mixed.search("sanitising script")[0]
    assert hit.id == "h-xss"
    assert "&lt;" in hit.snippet and "<mark>script</mark>" in hit.snippet
    assert "<script>" not in hit.snippet and "<script" not in hit.snippet
    assert "&amp; ampersands" in hit.snippet
    assert hit.title_snippet == "<mark>Sanitising</mark> &lt;b&gt;bold&lt;/b&gt; abstracts"


def test_snippet_falls_back_to_the_abstract_lead(mixed: LexicalIndex) -> None:
    hit = mixed.search("au:hinton")[0]  # a match in the authors only
    assert hit.snippet == "Inducing points make Gaussian process regression scale to millions " \
                          "of points."
    assert hit.title_snippet == "Scalable Gaussian Processes for Large Data"


def test_long_abstract_snippet_is_a_short_passage(listing: LexicalIndex) -> None:
    for hit in listing.search("kernel", limit=20):
        assert len(hit.snippet) < 400


# -- more like this ----------------------------------------------------------------------------


def test_more_like_this_finds_related_papers_not_itself(listing: LexicalIndex) -> None:
    titles = {p["id"]: p["title"] for p in _listing_papers()}
    condconv = next(pid for pid, t in titles.items() if t.startswith("CondConv"))
    hits = listing.more_like_this(condconv, limit=10)
    assert len(hits) == 10 and condconv not in {hit.id for hit in hits}
    assert sum("conv" in titles[hit.id].lower() for hit in hits[:5]) >= 3
    assert all(hit.matched_terms for hit in hits)


def test_more_like_this_with_filters_and_unknown_ids(mixed: LexicalIndex) -> None:
    hits = mixed.more_like_this("f00", limit=5, filters=Filters(category="cs.CV"))
    assert len(hits) == 5 and all(hit.id in {f"f{i:02d}" for i in range(1, 12, 2)}
                                  for hit in hits)
    assert mixed.more_like_this("no-such-paper") == []


# -- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "", "   ", "?!.,;", '"sparse attention', 'sparse" attention"', '""', "title:foo (bar^2 ~baz* "
    "AND NOT", "a:b", "[1 TO 2]", "{x TO *}", "AND", "NOT kernel", "-kernel", "+kernel^",
    "\\", "/regex/", "kernel~2", "*", "é" * 50, "x" * 10_000, "kernel " * 2000,
    " ".join(f"word{i}" for i in range(2000)), '"' + "kernel " * 500 + '"', "\x00\udcff",
])
def test_hostile_input_never_raises(query: str, mixed: LexicalIndex) -> None:
    hits = mixed.search(query, limit=10)
    assert isinstance(hits, list) and len(hits) <= 10


def test_empty_and_punctuation_queries_return_nothing(mixed: LexicalIndex) -> None:
    assert mixed.search("") == []
    assert mixed.search("?!.,;") == []
    assert mixed.search("?!.,;", filters=Filters(has_code=True)) == []


# -- writing and the folder ----------------------------------------------------------------------


def test_upsert_replaces_and_delete_removes(tmp_path: Path) -> None:
    shelf = _Shelf()
    index = LexicalIndex.open(tmp_path / "lexical", texts=shelf)
    assert shelf.add(index, [_paper("a", "Old walrus title", "x"), _paper("b", "Other", "y")]) == 2
    assert shelf.add(index, [_paper("a", "New narwhal title", "x"),
                             _paper("a", "Newest narwhal title", "x")]) == 2
    assert index.count() == 2
    assert index.search("walrus") == []
    assert [hit.title_snippet for hit in index.search("narwhal")] == [
        "Newest <mark>narwhal</mark> title"]
    index.delete(["a", "missing"])
    assert index.count() == 1 and index.search("narwhal") == []
    index.clear()
    assert index.count() == 0


def test_the_index_keeps_ids_only_and_cuts_snippets_from_the_stores_text(tmp_path: Path,
                                                                        ) -> None:
    shelf = _Shelf()
    index = LexicalIndex.open(tmp_path / "lexical", texts=shelf)
    shelf.add(index, [_paper("a", "Walrus migration", "Walruses migrate along the coast.")])
    raw = tantivy.Index.open(str(tmp_path / "lexical" / "tantivy")).searcher()
    stored = raw.doc(raw.search(tantivy.Query.all_query(), 1).hits[0][1])
    assert stored.to_dict() == {"id": ["a"]}
    shelf["a"] = {**shelf["a"], "title": "Walrus migration, revised"}  # the store is the truth
    [hit] = index.search("walrus")
    assert hit.title_snippet == "<mark>Walrus</mark> migration, revised"
    assert index.search("walruss")[0].matched_terms == ["close to: walrus, walruses"]
    assert index.more_like_this("b") == []  # an id the index does not hold

    bare = LexicalIndex.open(tmp_path / "lexical")  # no text to cut snippets from
    [hit] = bare.search("walrus")
    assert (hit.id, hit.matched_terms, hit.title_snippet) == ("a", ["walrus"], "")
    assert bare.search("walruss")[0].matched_terms == []  # never "walruss" itself


def test_watermark_and_documents_persist_across_reopen(tmp_path: Path) -> None:
    index = LexicalIndex.open(tmp_path / "lexical")
    assert index.rebuilt_fresh and index.watermark is None
    index.upsert([_paper("a", "Walrus", "x")])
    index.set_watermark("2024-05-01T12:00:00+00:00")
    index.close()
    again = LexicalIndex.open(tmp_path / "lexical")
    assert not again.rebuilt_fresh
    assert again.watermark == "2024-05-01T12:00:00+00:00"
    assert [hit.id for hit in again.search("walrus")] == ["a"]
    again.clear()
    assert again.watermark is None


@pytest.mark.parametrize("damage", ["old version", "meta garbage", "meta missing",
                                    "tantivy garbage", "tantivy missing"])
def test_an_unusable_folder_is_recreated_empty(damage: str, tmp_path: Path) -> None:
    folder = tmp_path / "lexical"
    index = LexicalIndex.open(folder)
    index.upsert([_paper("a", "Walrus", "x")])
    index.set_watermark("2024-05-01T12:00:00+00:00")
    index.close()
    meta = folder / "meta.json"
    if damage == "old version":
        meta.write_text(json.dumps({"schema_version": 0, "watermark": "2024-05-01"}))
    elif damage == "meta garbage":
        meta.write_bytes(b"\xff{not json")
    elif damage == "meta missing":
        meta.unlink()
    elif damage == "tantivy garbage":
        (folder / "tantivy" / "meta.json").write_text("{garbage")
    else:
        for f in sorted((folder / "tantivy").rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
        (folder / "tantivy").rmdir()
    fresh = LexicalIndex.open(folder)
    assert fresh.rebuilt_fresh and fresh.rebuilt_reason
    assert fresh.count() == 0 and fresh.watermark is None
    assert json.loads(meta.read_text())["schema_version"] >= 1
    fresh.upsert([_paper("b", "Narwhal", "y")])
    assert [hit.id for hit in fresh.search("narwhal")] == ["b"]


def test_a_malformed_paper_fails_the_whole_call(tmp_path: Path) -> None:
    index = LexicalIndex.open(tmp_path / "lexical")
    with pytest.raises(LexicalIndexError, match="'bad'"):
        index.upsert([_paper("good", "Walrus", "x"), {"id": "bad", "title": 42}])
    assert index.count() == 0  # nothing half-written


def test_a_closed_index_says_so(tmp_path: Path) -> None:
    index = LexicalIndex.open(tmp_path / "lexical")
    index.close()
    with pytest.raises(LexicalIndexError, match="closed"):
        index.search("walrus")


def test_writing_while_another_writer_holds_the_folder_says_what_to_do(tmp_path: Path) -> None:
    index = LexicalIndex.open(tmp_path / "lexical")
    other = tantivy.Index.open(str(tmp_path / "lexical" / "tantivy"))  # as another process
    writer = other.writer()
    try:
        with pytest.raises(LexicalIndexError, match="another paperboy process"):
            index.upsert([_paper("a", "Walrus", "x")])
    finally:
        writer.rollback()
        writer.wait_merging_threads()
    assert index.upsert([_paper("a", "Walrus", "x")]) == 1
