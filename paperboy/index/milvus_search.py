"""Search on Milvus with the local searcher's contract (`MilvusSearcher`): the query words
(stemmed as the word index stems them) against the BM25 function, the query vector against the
HNSW field, both fused as the local searcher fuses them (`fuse.hybrid_ranking`); see milvus.py
for the collection."""


from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from paperboy.embed import Embedder, EmbedderUnavailable, query_vector
from paperboy.index.fuse import hybrid_ranking
from paperboy.index.hybrid import (
    MAX_DEPTH,
    Hit,
    Mode,
    PaperNotFound,
    SearchResult,
    Sort,
    newest_first,
    open_search,
    paper_hit,
)
from paperboy.index.lexical_query import (
    SNIPPET_CHARS,
    UserQuery,
    content_words,
    holds,
    is_stop_word,
    name_tokens,
    parse_user_query,
    query_filters,
    word_stem,
    word_stems,
)
from paperboy.index.marks import find, marked, passage
from paperboy.index.milvus import (
    _CATEGORY,
    _STOP,
    MilvusCollection,
    MilvusVectors,
    _both,
    sync_milvus,
)
from paperboy.index.passages import rerank
from paperboy.index.spelling import as_written
from paperboy.models import Filters
from paperboy.progress import Progress
from paperboy.sources._text import title_key
from paperboy.store import Store

__all__ = ["MilvusSearcher", "open_milvus"]


class MilvusSearcher:
    """The `Searcher` contract (index/hybrid.py), answered by a Milvus collection."""

    def __init__(self, store: Store, collection: MilvusCollection,
                 embedder: Callable[[], Embedder], paper_count: Callable[[], int], *,
                 rerank: int = 0) -> None:
        self.store, self.collection = store, collection
        self._embedder, self._paper_count = embedder, paper_count
        self.rerank = rerank  # as the local searcher's (`passages.rerank`)

    def vectors(self) -> MilvusVectors:
        return MilvusVectors(self.collection, self.store)

    def close(self) -> None:
        self.collection.close()

    def search(self, query: str, *, limit: int = 20, offset: int = 0, mode: Mode = "hybrid",
               filters: Filters | None = None, sort: Sort = "relevance") -> SearchResult:
        """As `Searcher.search`. `cat:` and `year:` are Milvus filters; `-word`, `title:` and
        `author:` are checked on the stored papers of the candidates."""
        result, query = open_search(self.store, query, mode, offset)
        result.sort = sort
        if query is None:
            return result
        parsed = parse_user_query(query)
        filters = query_filters(parsed, filters or Filters())
        expr = filter_expression(filters)
        if expr is None:  # a category no paper can have
            return result

        text, phrases = query_text(parsed), phrase_expression(parsed)
        window = MAX_DEPTH if sort == "newest" or parsed.constrained \
            else min(offset + limit, MAX_DEPTH)
        meaning = parsed.free_text or " ".join(parsed.titles)  # what is embedded
        vector = self._query_vector(meaning, result.notices) \
            if mode != "lexical" and meaning.strip() else None
        # without a vector, words answer; without words (all too long), meaning does
        kind = "lexical" if vector is None else "semantic" if mode == "semantic" or not text \
            else "hybrid"
        depth = min(max(100, window), MAX_DEPTH) if kind == "hybrid" else window
        words = self.collection.by_words(text, limit=depth, expr=_both(phrases, expr)) \
            if text and kind != "semantic" else []
        near = self.collection.by_vector(vector, limit=depth, expr=expr) \
            if vector is not None and kind != "lexical" else []
        candidates: dict[str, dict[str, Any]] = {}
        if parsed.constrained:  # -word, title: and author: hold for both retrievers' papers
            candidates = self.store.papers_by_ids(list({i: None for i, _ in words + near}))
            words, near = ([(paper_id, score) for paper_id, score in found
                            if paper_id in candidates and holds(parsed, candidates[paper_id])]
                           for found in (words, near))
        cosines = dict(near)
        if kind == "hybrid" and vector is not None:  # as the local searcher fuses them
            stored = self.collection.vectors([i for i, _ in words if i not in cosines])
            cosines.update((i, float(v @ vector)) for i, v in stored.items())
            ranked = hybrid_ranking(dict(words), cosines,
                                    content_words=len(content_words(meaning)))
            if self.rerank:
                ranked = rerank(ranked, dict(words), cosines, query=meaning, vector=vector,
                                candidates=self.rerank, passages=lambda ids: (
                                    self.store.embeddings.passages_of(ids,
                                                                      self.collection.model)))
            ranked = ranked[:window]
        else:
            ranked = near if kind == "semantic" else words
        exact = self._exact_title(meaning, expr)
        if exact:
            score = ranked[0][1] if ranked else 1.0
            ranked = [(exact, score)] + [r for r in ranked if r[0] != exact]

        if sort == "newest":
            ranked = newest_first(ranked, self.store.published_of([i for i, _ in ranked]))
        page = ranked[offset:offset + limit]
        # the page's papers: fetched already when the operators were checked
        rows = {paper_id: candidates[paper_id] for paper_id, _ in page if paper_id in candidates}
        if missing := [paper_id for paper_id, _ in page if paper_id not in rows]:
            rows.update(self.store.papers_by_ids(missing))
        if vector is not None and (unknown := [i for i in rows if i not in cosines]):
            cosines.update((i, float(v @ vector))
                           for i, v in self.collection.vectors(unknown).items())
        by_words = {paper_id: (rank, score)
                    for rank, (paper_id, score) in enumerate(words, start=1)}
        by_meaning = {paper_id: rank for rank, (paper_id, _) in enumerate(near, start=1)}
        for paper_id, score in page:
            paper = rows.get(paper_id)
            if paper is None:  # indexed, then removed or renamed in the store: skip it
                continue
            hit = paper_hit(paper, score=score, match="title" if paper_id == exact else None)
            explain_words(hit, paper, parsed)
            if paper_id in by_words:
                hit.lexical_rank = by_words[paper_id][0]
                hit.bm25 = round(by_words[paper_id][1], 4)
            hit.semantic_rank = by_meaning.get(paper_id)
            if paper_id in cosines:
                hit.similarity = round(cosines[paper_id], 4)
            result.hits.append(hit)
        return result

    def similar(self, paper_id: str, *, limit: int = 20,
                filters: Filters | None = None) -> SearchResult:
        """Papers nearest to a stored paper's vector (no model call), or by words without one."""
        paper = self.store.paper(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        result = SearchResult(query=paper["id"], mode="similar", hits=[])
        expr = filter_expression(filters or Filters())
        if expr is None:
            return result
        expr = _both(f"id != {json.dumps(paper['id'])}", expr)
        vector = self.collection.vectors([paper["id"]]).get(paper["id"])
        if vector is not None:
            found = self.collection.by_vector(vector, limit=limit, expr=expr)
        else:
            result.notices.append("This paper has no vector yet: similar papers are found by "
                                  "shared words.")
            words = dict.fromkeys(s for w in _STOP.analyze(f"{paper['title']}\n{paper['abstract']}")
                                  for s in word_stems(w))
            found = self.collection.by_words(" ".join(words), limit=limit, expr=expr) \
                if words else []
        rows = self.store.papers_by_ids([i for i, _ in found])
        for rank, (other, score) in enumerate(found, start=1):
            if other in rows:
                hit = paper_hit(rows[other], score=score)
                if vector is not None:
                    hit.semantic_rank, hit.similarity = rank, round(score, 4)
                else:
                    hit.lexical_rank, hit.bm25 = rank, round(score, 4)
                result.hits.append(hit)
        return result

    def _query_vector(self, query: str, notices: list[str]) -> np.ndarray | None:
        try:
            embedder = self._embedder()
        except EmbedderUnavailable as error:
            notices.append(f"Searching by words only: the embedding model is unavailable "
                           f"({error}).")
            return None
        embedded = self.collection.embedded()
        if embedded == 0 or embedder.dim != self.collection.dim:
            notices.append("Searching by words only: no paper has a vector yet.")
            return None
        papers = self._paper_count()
        if embedded < papers:
            notices.append(f"{papers - embedded:,} of {papers:,} papers have no vector yet and "
                           "are found by words only.")
        return np.asarray(query_vector(embedder, query), dtype=np.float32)

    def _exact_title(self, query: str, expr: str) -> str | None:
        key = title_key(query)
        if len(key) < 8:  # a word or two is a topic, not a title
            return None
        ids = self.store.ids_with_title_key(key)
        if ids and expr:
            passing = self.collection.passing(ids, expr)
            ids = [i for i in ids if i in passing]
        return ids[0] if ids else None


# -- pure helpers: queries, filters, explanations -----------------------------------------------


def query_text(parsed: UserQuery) -> str:
    """The query as BM25 reads it: stems of its words, phrases and title words, and the tokens
    of author names (the `words` field holds both)."""
    tokens: dict[str, None] = {}
    for part in parsed.terms + parsed.phrases + parsed.titles:
        tokens.update(dict.fromkeys(word_stems(part) + name_tokens(part)))
    for author in parsed.authors:
        tokens.update(dict.fromkeys(name_tokens(author)))
    return " ".join(tokens)


def phrase_expression(parsed: UserQuery) -> str:
    """Quoted phrases as filters: every word of each must occur (Milvus Lite has no
    phrase_match, so the words need not be adjacent)."""
    stems = dict.fromkeys(s for phrase in parsed.phrases for s in word_stems(phrase))
    return " and ".join(f"text_match(words, {json.dumps(s)})" for s in stems)


def filter_expression(filters: Filters) -> str | None:
    """`filters` as a Milvus boolean expression ("" for none); None when nothing can pass."""
    parts = []
    if filters.date_from is not None:
        parts.append(f"published >= {_epoch(filters.date_from)}")
    if filters.date_to is not None:
        parts.append(f"published < {_epoch(filters.date_to + timedelta(days=1))}")
    if filters.category is not None:
        if not _CATEGORY.match(filters.category):
            return None
        parts.append(f"array_contains(categories, {json.dumps(filters.category.lower())})")
    if filters.has_code is not None:
        parts.append(f"has_code == {'true' if filters.has_code else 'false'}")
    return " and ".join(parts)


def explain_words(hit: Hit, paper: dict[str, Any], parsed: UserQuery) -> None:
    """The query words and phrases a paper contains, and its title and abstract with the
    matching words in <mark>, marked and cut as the local backend does (index/marks.py)."""
    terms = [term for term in parsed.terms if not is_stop_word(term)]  # as the local index
    wanted = {s for part in terms + parsed.phrases for s in word_stems(part)}
    title, abstract = paper["title"] or "", paper["abstract"] or ""
    present = set(word_stems(f"{title}\n{abstract}"))
    names = {t for author in paper["authors"] or () for t in name_tokens(author)}
    hit.matched_terms = [term for term in terms
                         if set(word_stems(term)) & present or set(name_tokens(term)) & names]
    hit.matched_terms += [phrase for phrase in parsed.phrases
                          if set(word_stems(phrase)) <= present]
    title_spans, _ = find(title, wanted, word_stem)
    if title_marked := marked(title, title_spans):
        hit.title_snippet = title_marked
    spans, _ = find(abstract, wanted, word_stem)
    shown = passage(abstract, spans, [1.0] * len(spans), SNIPPET_CHARS)
    if abstract_marked := marked(abstract, spans, *shown):
        hit.snippet = abstract_marked
    written = {text[a:b].lower() for text, found in ((title, title_spans), (abstract, spans))
               for a, b in found}
    hit.matched_terms = [as_written(term, written) for term in hit.matched_terms]


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def open_milvus(uri: str, name: str, store: Store, *, model: str,
                embedder: Callable[[], Embedder], paper_count: Callable[[], int],
                progress: Progress, sync: bool = True, rerank: int = 0) -> MilvusSearcher:
    """The searcher on Milvus, its collection made for the model's dimension (words only while
    no vector is stored and the model cannot load) and brought up to date with the store."""
    dim = store.embeddings.dim(model)
    if dim is None:
        try:
            dim = embedder().dim
        except EmbedderUnavailable:
            dim = None
    collection = MilvusCollection.open(uri, name, model=model, dim=dim)
    if collection.rebuilt_reason and collection.rebuilt_reason != "the collection is new":
        progress.note(f"Milvus collection {name!r} rebuilt: {collection.rebuilt_reason}")
    if sync:
        sync_milvus(store, collection, progress)
    return MilvusSearcher(store, collection, embedder, paper_count, rerank=rerank)
