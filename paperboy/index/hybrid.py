"""Search by words and by meaning, fused, with the reasons each paper was found.

The lexical retriever (tantivy BM25) and the semantic one (HNSW over paper vectors) each return
their own top `depth` papers, both already filtered; `fuse.hybrid_ranking` merges them.
A pasted arXiv id, URL or DOI goes straight to its paper, and a paper whose title is exactly the
query comes first. When the model cannot load or no vectors exist yet, search answers by words
and says so in a notice; it never fails because embeddings are missing.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

import numpy as np

from paperboy.embed import Embedder, EmbedderUnavailable, query_vector
from paperboy.index.fuse import hybrid_ranking
from paperboy.index.lexical import LexicalHit, LexicalHits, LexicalIndex
from paperboy.index.lexical_query import content_words, parse_user_query, query_filters
from paperboy.index.passages import rerank
from paperboy.index.vectors import VectorIndex
from paperboy.models import Filters
from paperboy.sources._text import title_key
from paperboy.store import Store

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "semantic")
Sort = Literal["relevance", "newest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest")
MAX_DEPTH = 1000
MAX_QUERY_CHARS = 4000
# hybrid search's word half, one thread per core (more would only queue for the cores)
_WORDS = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1),
                            thread_name_prefix="paperboy-words")

_ID = re.compile(
    r"^\s*(?:arxiv:\s*)?(?:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?(?:\.pdf)?/?\s*$",
    re.I)
_DOI = re.compile(r"^\s*(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(?P<id>10\.\d{4,9}/\S+)\s*$", re.I)
_OWN_ID = re.compile(r"^\s*(?P<id>t-[0-9a-f]{16})\s*$")


class PaperNotFound(LookupError):
    def __init__(self, paper_id: str) -> None:
        super().__init__(f"no paper with id {paper_id!r} in this store")
        self.paper_id = paper_id


@dataclass
class Hit:
    id: str
    title: str
    score: float
    authors: list[str]
    published: str | None
    categories: list[str]
    links: dict[str, Any]
    published_precision: str | None = None  # "month": known to the month of its arXiv id
    matched_terms: list[str] = field(default_factory=list)
    snippet: str = ""
    title_snippet: str = ""
    similarity: float | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    bm25: float | None = None
    match: str | None = None  # "id" or "title" when the query named this paper outright

    def as_dict(self) -> dict[str, Any]:
        # shallow: the lists and dicts are the hit's own (asdict's deep copy costs ~25 us a hit)
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    notices: list[str] = field(default_factory=list)
    total: int | None = None  # papers holding the words (None: by meaning only)
    sort: str = "relevance"


def looked_up_id(query: str) -> str | None:
    """The paper id a query names outright (arXiv id or URL, DOI, Paperboy's own id), if any."""
    for pattern in (_ID, _DOI, _OWN_ID):
        if m := pattern.match(query):
            return m.group("id")
    return None


def open_search(store: Store, query: str, mode: str,
                offset: int) -> tuple[SearchResult, str | None]:
    """What every search backend does first: the result to fill, and the query to search for
    (cut to `MAX_QUERY_CHARS`); None when the result is already the answer (no words, or the
    query names a paper, which is then the one hit)."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    result = SearchResult(query=query, mode=mode, hits=[])
    if len(query) > MAX_QUERY_CHARS:
        query = query[:MAX_QUERY_CHARS]
        result.notices.append(f"The query was cut to its first {MAX_QUERY_CHARS} characters.")
    if not re.search(r"\w", query):
        result.notices.append("Type some words, an arXiv id or a DOI to search for.")
        return result, None
    if (named := looked_up_id(query)) is not None:
        paper = store.paper(named)
        if paper is None:
            result.notices.append(f"No paper with id {named!r} in this store.")
        elif offset == 0:
            result.hits.append(paper_hit(paper, score=1.0, match="id"))
        return result, None
    return result, query


class Searcher:
    def __init__(self, store: Store, lexical: LexicalIndex,
                 vectors: Callable[[], VectorIndex | None], embedder: Callable[[], Embedder],
                 paper_count: Callable[[], int], *, rerank: int = 0) -> None:
        """`paper_count` may be cached by the caller: it only words a notice; `rerank`, the
        short queries' candidates judged again by their passages (`passages.rerank`)."""
        self.store = store
        self.rerank = rerank
        self._paper_count = paper_count
        self.lexical = lexical
        self._vectors = vectors
        self._embedder = embedder

    def search(self, query: str, *, limit: int = 20, offset: int = 0, mode: Mode = "hybrid",
               filters: Filters | None = None, sort: Sort = "relevance") -> SearchResult:
        """The best papers for `query`, or (`sort="newest"`) the best `MAX_DEPTH` of them
        newest first."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        result, query = open_search(self.store, query, mode, offset)
        result.sort = sort
        if query is None:
            return result
        parsed = parse_user_query(query)
        filters = query_filters(parsed, filters or Filters())
        meaning = parsed.free_text or " ".join(parsed.titles)  # what is embedded

        depth = MAX_DEPTH if sort == "newest" else min(max(100, offset + limit), MAX_DEPTH)
        # The ids passing the filters, asked of the store at most once per search.
        allowed = cache(lambda: self.store.ids_matching(filters))
        # by words in another thread while the model and the graph find papers by meaning:
        # tantivy, ONNX Runtime and usearch each let go of the interpreter while they work
        by_words = _WORDS.submit(self.lexical.search, query, limit=depth, filters=filters,
                                 explain=False) if mode == "hybrid" else None
        found = self._semantic(meaning, filters, allowed, depth, result.notices) \
            if mode != "lexical" and meaning.strip() else None
        semantic, vector = found if found is not None else (None, None)
        if semantic and parsed.constrained:  # the operators hold for papers found by meaning too
            passing = self.lexical.passing(query, [i for i, _ in semantic])
            semantic = [(i, sim) for i, sim in semantic if i in passing]
        if by_words is not None:
            lexical = by_words.result()
        elif mode == "lexical" and sort == "relevance":
            lexical = self._page_by_words(query, filters, offset + limit, depth)
        else:
            lexical = self.lexical.search(query, limit=depth, filters=filters, explain=False) \
                if mode != "semantic" or semantic is None else LexicalHits()

        by_lexical = {h.id: h for h in lexical}
        by_semantic = {paper_id: (rank, sim) for rank, (paper_id, sim)
                       in enumerate(semantic or [], start=1)}
        if semantic is None or mode == "lexical":
            # equal scores by id: the same order however the index's segments were written
            ranked = sorted(((h.id, h.score) for h in lexical), key=lambda r: (-r[1], r[0]))
            if not lexical:
                result.notices.append(no_match_notice(query, filters))
        elif mode == "semantic":
            ranked = list(semantic)
        elif not lexical and not self.lexical.search(query, limit=1, explain=False):
            # No paper at all holds any of the words, or a near spelling of one: the nearest
            # vectors of such text are noise, and saying so is the honest answer.
            result.notices.append(no_match_notice(query, Filters()))
            return result
        elif not lexical:  # the words exist, only not among the papers the filters allow
            ranked = list(semantic)
        else:
            cosines = dict(semantic)
            index = self._vectors()
            if index is not None and vector is not None:  # lexical-only candidates too
                cosines.update(index.similarities(
                    vector, [h.id for h in lexical if h.id not in cosines]))
            scores = {h.id: h.score for h in lexical}
            ranked = hybrid_ranking(scores, cosines, content_words=len(content_words(meaning)))
            if self.rerank and vector is not None:
                model = index.model if index is not None else self._embedder().name
                ranked = rerank(ranked, scores, cosines, query=meaning, vector=vector,
                                candidates=self.rerank, passages=lambda ids: (
                                    self.store.embeddings.passages_of(ids, model)))
        exact = self._exact_title(meaning, filters, allowed)
        if exact:
            score = ranked[0][1] if ranked else 1.0
            ranked = [(exact, score)] + [r for r in ranked if r[0] != exact]

        if lexical:
            result.total = lexical.total
        if sort == "newest":
            ranked = newest_first(ranked, self.store.published_of([i for i, _ in ranked]))
        page = ranked[offset:offset + limit]
        papers = self.store.papers_by_ids([paper_id for paper_id, _ in page],
                                          columns=HIT_COLUMNS)
        if lexical:
            by_lexical.update((h.id, h) for h in self.lexical.explain(
                query, [h for h in lexical if h.id in papers], found_in=lexical,
                texts={i: (p["title"], p["abstract"]) for i, p in papers.items()}))
        for paper_id, score in page:
            paper = papers.get(paper_id)
            if paper is None:  # indexed, then removed or renamed in the store: skip it
                continue
            hit = paper_hit(paper, score=score, match="title" if paper_id == exact else None)
            _explain(hit, by_lexical.get(paper_id), by_semantic.get(paper_id))
            result.hits.append(hit)
        return result

    def _page_by_words(self, query: str, filters: Filters, wanted: int,
                       depth: int) -> LexicalHits:
        """The best `wanted` hits by words, and as many again: fusion needs `depth` candidates,
        words alone need only the page. Papers tied with the page's last hit are ordered by
        id as always, so the whole tie is read: within the extra hits read at once (a tie is
        common for a one-word query, as BM25 sees only how often the word occurs and a
        coarse length), or, past them, by reading `depth`."""
        found = self.lexical.search(query, limit=2 * wanted + 1, filters=filters,
                                    explain=False)
        if len(found) == 2 * wanted + 1 and found[wanted - 1].score == found[-1].score \
                and 2 * wanted + 1 < depth:
            found = self.lexical.search(query, limit=depth, filters=filters, explain=False)
        return found

    def similar(self, paper_id: str, *, limit: int = 20,
                filters: Filters | None = None) -> SearchResult:
        """Papers nearest to a stored paper's vector (no model call), or by words without one."""
        paper = self.store.paper(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        filters = filters or Filters()
        result = SearchResult(query=paper["id"], mode="similar", hits=[])
        index = self._vectors()
        vector = index.vector(paper["id"]) if index is not None else None
        if vector is not None and index is not None:
            allowed = self.store.ids_matching(filters) if filters.active else None
            found = index.search(vector, limit=limit, allowed=allowed, exclude={paper["id"]})
            papers = self.store.papers_by_ids([i for i, _ in found])
            for rank, (other, similarity) in enumerate(found, start=1):
                if other in papers:
                    hit = paper_hit(papers[other], score=similarity)
                    _explain(hit, None, (rank, similarity))
                    result.hits.append(hit)
            return result
        result.notices.append("This paper has no vector yet: similar papers are found by "
                              "shared words.")
        lexical = self.lexical.more_like_this(paper["id"], limit=limit, filters=filters)
        papers = self.store.papers_by_ids([h.id for h in lexical])
        for found_hit in lexical:
            if found_hit.id in papers:
                hit = paper_hit(papers[found_hit.id], score=found_hit.score)
                _explain(hit, found_hit, None)
                result.hits.append(hit)
        return result

    def _semantic(self, query: str, filters: Filters, allowed: Callable[[], set[str]],
                  depth: int, notices: list[str],
                  ) -> tuple[list[tuple[str, float]], np.ndarray] | None:
        """The nearest papers by meaning, with the query's vector; None without vectors
        (the model is then never loaded)."""
        index = self._vectors()
        if index is None or len(index) == 0:
            notices.append("Searching by words only: no paper has a vector yet.")
            return None
        try:
            embedder = self._embedder()
        except EmbedderUnavailable as error:
            notices.append(f"Searching by words only: the embedding model is unavailable "
                           f"({error}).")
            return None
        papers = self._paper_count()
        if len(index) < papers:
            notices.append(f"{papers - len(index):,} of {papers:,} papers have no vector yet and "
                           "are found by words only.")
        vector = query_vector(embedder, query)
        return index.search(vector, limit=depth,
                            allowed=allowed() if filters.active else None), vector

    def _exact_title(self, query: str, filters: Filters,
                     allowed: Callable[[], set[str]]) -> str | None:
        key = title_key(query)
        if len(key) < 8:  # a word or two is a topic, not a title
            return None
        ids = self.store.ids_with_title_key(key)
        if ids and filters.active:
            passing = allowed()
            ids = [i for i in ids if i in passing]
        return ids[0] if ids else None


def newest_first(ranked: list[tuple[str, float]],
                 published: dict[str, Any]) -> list[tuple[str, float]]:
    """The same papers, newest first (undated last), in rank order within a day."""
    dated = sorted((item for item in ranked if published.get(item[0])),
                   key=lambda item: published[item[0]], reverse=True)  # stable: rank within
    return dated + [item for item in ranked if not published.get(item[0])]


def no_match_notice(query: str, filters: Filters) -> str:
    within = " among the papers the filters allow" if filters.active else ""
    return (f"No paper matches “{query}”{within}: none holds any of its words or a near "
            "spelling of one.")


# what `paper_hit` reads of a stored paper
HIT_COLUMNS = ("title", "authors", "published", "published_precision", "categories", "links",
               "abstract")


def paper_hit(paper: dict[str, Any], *, score: float, match: str | None = None) -> Hit:
    published = paper["published"]
    return Hit(id=paper["id"], title=paper["title"], score=float(score),
               authors=paper["authors"], published=published.date().isoformat()
               if published else None, categories=paper["categories"], links=paper["links"],
               published_precision=paper.get("published_precision"),
               snippet=html.escape(_lead(paper["abstract"])),
               title_snippet=html.escape(paper["title"]), match=match)


def _explain(hit: Hit, lexical: LexicalHit | None,
             semantic: tuple[int, float] | None) -> None:
    if lexical is not None:
        hit.lexical_rank, hit.bm25 = lexical.rank, lexical.score
        hit.matched_terms = lexical.matched_terms
        hit.snippet = lexical.snippet or hit.snippet
        hit.title_snippet = lexical.title_snippet or hit.title_snippet
    if semantic is not None:
        hit.semantic_rank, hit.similarity = semantic[0], round(float(semantic[1]), 4)


def _lead(text: str, length: int = 240) -> str:
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + " …"
