"""The lexical index: BM25 search by words over titles, abstracts and authors (tantivy).

Derived data: the store is the truth, and the index can be emptied and refilled from it at any
time. Its folder holds `meta.json` (the schema version, and the caller's watermark: the store's
`last_changed` time indexed up to) beside tantivy's own files in `tantivy/`. A folder from
another schema version, one that cannot be opened or one whose files fail tantivy's checksums
(index/integrity.py) is recreated empty and `rebuilt_fresh` tells the caller to refill it, so old
and new documents never mix and damage is not served.

User text never reaches tantivy's query parser: `parse_user_query` reduces it to words and quoted
phrases, and the query is assembled from term and phrase objects, so no input is a syntax error
or an unbounded query. Filters are clauses of that query, so `limit` hits come back whenever
that many papers match.

The index keeps no copy of the papers' text, only their ids: the titles and abstracts that
snippets and explanations are cut from come from the store (`Texts`). A stored copy was most of
the index's size on disk and, read for each candidate's id, most of a serving process' memory.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import tantivy
from tantivy import Occur, Query

from paperboy.index.integrity import tantivy_damage
from paperboy.index.lexical_query import (
    _CATEGORY,
    _EN,
    _NAME,
    ABSTRACT_BOOST,
    FUZZY_BELOW,
    PAIRS,
    SNIPPET_CHARS,
    TITLE_BOOST,
    Marks,
    UserQuery,
    _boosted,
    _compile,
    _Compiled,
    _distinctive_terms,
    _filter_clauses,
    _held_labels,
    _lead,
    _matched_labels,
    _near_spellings,
    _operator_clauses,
    _restricted,
    _utc,
    adjacent_pairs,
    parse_user_query,
    word_stem,
)
from paperboy.index.marks import find, marked, passage
from paperboy.index.spelling import american_text, as_written
from paperboy.models import Filters

P = ParamSpec("P")
R = TypeVar("R")

SCHEMA_VERSION = 5  # 2: `text` (title and abstract in one field) scores words; 3: ids stored
# alone; 4: adjacent word pairs indexed (`pairs`); 5: words in their American spelling
# (`spelling`)
WRITER_HEAP_BYTES = 64_000_000

# one core is left to the Python thread that builds the documents
_WRITER_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
_META = "meta.json"
_TANTIVY_DIR = "tantivy"
_NAME_TOKENIZER = "paperboy_name"  # the default tokenizer plus accent folding: "Schölkopf"
_CATEGORY_TOKENIZER = "paperboy_category"  # the whole value, lower-cased: "cs.LG" == "cs.lg"
_PAIRS_TOKENIZER = "paperboy_pairs"  # tokens made by `adjacent_pairs`, split at spaces


__all__ = ["SCHEMA_VERSION", "LexicalHit", "LexicalIndex", "LexicalIndexBusy",
           "LexicalIndexDamaged", "LexicalIndexError", "LexicalHits", "LexicalWriter", "Texts",
           "UserQuery", "parse_user_query"]

# {paper id: (title, abstract)} of the papers asked for that are stored; see the module docstring
Texts = Callable[[Sequence[str]], Mapping[str, tuple[str, str]]]


class LexicalIndexError(Exception):
    """The lexical index cannot be written (locked by another process, or a malformed paper)."""


class LexicalIndexBusy(LexicalIndexError):
    """Another writer (usually another paperboy process) holds the index's lock."""


class LexicalIndexDamaged(LexicalIndexError):
    """The index's files are not what tantivy wrote (a disk or a hand changed them)."""


# How tantivy-py words the errors of files that are not what tantivy wrote (tantivy's
# TantivyError::IoError, DataCorruption and OpenReadError), as ValueError.
_DAMAGE_MESSAGES = ("An IO error occurred", "Data corrupted", "Failed to open file")


def _reads(method: Callable[P, R]) -> Callable[P, R]:
    """A reading method whose damaged files raise `LexicalIndexDamaged`: tantivy's own errors
    for such files, and a panic in its native code (a BaseException, past `except Exception`)."""

    @functools.wraps(method)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ValueError as exc:
            if not str(exc).startswith(_DAMAGE_MESSAGES):
                raise
            raise LexicalIndexDamaged(f"the word index is damaged: {exc}") from exc
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            raise LexicalIndexDamaged(f"the word index is damaged: tantivy failed ({exc})"
                                      ) from None

    return read


@dataclass(slots=True)
class LexicalHit:
    id: str
    score: float  # BM25; for typo-tolerant hits, a match count scaled below the exact hits
    rank: int  # 1-based, within this retriever's whole list (offset included)
    matched_terms: list[str] = field(default_factory=list)  # query words/phrases found
    snippet: str = ""  # HTML: escaped abstract passage with <mark> around matches
    title_snippet: str = ""  # HTML: escaped title with <mark> around matches
    fuzzy: bool = False  # found only by the typo-tolerant fallback


class LexicalHits(list[LexicalHit]):
    """A page of hits, and how many papers hold the words (`total`, typo hits not counted).
    Unexplained hits keep where the search found them, so `explain` need not look again."""

    total: int = 0
    searcher: tantivy.Searcher | None = None
    addresses: dict[str, tantivy.DocAddress] = {}  # noqa: RUF012 - replaced, never mutated




def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name="en_stem")  # title and abstract: BM25
    # the stems of each two adjacent words of `text`, for `proximity` (no positions needed)
    builder.add_text_field("pairs", tokenizer_name=_PAIRS_TOKENIZER, index_option="freq")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("abstract", tokenizer_name="en_stem")
    builder.add_text_field("authors", tokenizer_name=_NAME_TOKENIZER)
    builder.add_text_field("categories", tokenizer_name=_CATEGORY_TOKENIZER)
    # Unstemmed words for the typo-tolerant fallback: edit distance means little between
    # stems ("conditionaly" stems to "conditionali", "conditionally" to "condit").
    builder.add_text_field("title_words", index_option="basic")
    builder.add_text_field("abstract_words", index_option="basic")
    builder.add_date_field("published", indexed=True, fast=True)
    builder.add_boolean_field("has_code", indexed=True)
    return builder.build()


class LexicalIndex:
    """A tantivy index in one folder; open with `LexicalIndex.open(path, texts=...)`, where
    `texts` gives the papers' titles and abstracts for snippets (without it, hits carry none).

    Writes take the folder's writer lock for the length of one call (or one `writer()` block),
    so another process can index between them; what they write is visible to searches when they
    return. The watermark is read from disk each time, as another process may have moved it.
    """

    def __init__(self, path: Path, index: tantivy.Index, *, texts: Texts | None,
                 rebuilt_fresh: bool, rebuilt_reason: str | None) -> None:
        self.path = path
        self._texts = texts
        self.rebuilt_fresh = rebuilt_fresh
        self.rebuilt_reason = rebuilt_reason  # why the folder was recreated, for the log
        self._index: tantivy.Index | None = index
        self._schema = index.schema
        self._lock = threading.Lock()
        # a search and the explanation of its page assemble the same query: once
        self._compiled = functools.lru_cache(maxsize=64)(self._compile)

    @classmethod
    def open(cls, path: Path, *, texts: Texts | None = None) -> LexicalIndex:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        reason = _unusable(path) or tantivy_damage(path / _TANTIVY_DIR)
        index = None
        if reason is None:
            try:
                index = tantivy.Index(_schema(), path=str(path / _TANTIVY_DIR), reuse=True)
            except ValueError as exc:  # how tantivy reports corrupt files and schema drift
                reason = f"the index files cannot be opened ({exc})"
        if index is None:
            index = _new_tantivy(path)
        else:
            _register_tokenizers(index)
        return cls(path, index, texts=texts, rebuilt_fresh=reason is not None,
                   rebuilt_reason=reason)

    def recreate(self, reason: str) -> None:
        """Start again empty in the same folder (damage found while searching): the caller
        refills it from the store, as after `open` with `rebuilt_fresh`."""
        with self._lock:
            self._index = _new_tantivy(self.path)
            self.rebuilt_fresh, self.rebuilt_reason = True, reason

    def __enter__(self) -> LexicalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._index = None

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, papers: Iterable[dict[str, Any]], *,
               is_new: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """Index papers, replacing any earlier version of each id; returns how many.

        `is_new` tells which papers cannot be in the index yet: they are added without the
        delete-by-id that a replacement needs, which tantivy must apply to every segment.
        """
        with self.writer() as writer:
            return writer.upsert(papers, is_new=is_new)

    def delete(self, ids: Iterable[str]) -> None:
        with self.writer() as writer:
            writer.delete(ids)

    @contextmanager
    def writer(self) -> Iterator[LexicalWriter]:
        """A writer holding the folder's lock until the block ends, when it commits.

        Documents become searchable at each `commit()` and at the end; an exception rolls back
        what was written since the last commit.
        """
        index = self._open_index()
        with self._lock:
            try:
                raw = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=_WRITER_THREADS)
            except ValueError as exc:
                raise LexicalIndexBusy(
                    f"cannot write the lexical index at {self.path}: {exc}; is another "
                    "paperboy process indexing? Try again when it has finished") from exc
            writer = LexicalWriter(raw, index)
            try:
                yield writer
                writer.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                raw.wait_merging_threads()
            index.reload()

    def clear(self) -> None:
        """Remove every document; the watermark goes back to None (nothing is indexed)."""

        with self.writer() as writer:
            writer.raw.delete_all_documents()
        self.set_watermark(None)

    @property
    def watermark(self) -> str | None:
        meta = json.loads((self.path / _META).read_text(encoding="utf-8"))
        return meta.get("watermark")

    def set_watermark(self, value: str | None) -> None:
        _write_meta(self.path, {"schema_version": SCHEMA_VERSION, "watermark": value})

    @_reads
    def count(self) -> int:
        return self._searcher().num_docs

    # -- searching -------------------------------------------------------------------------

    @_reads
    def search(self, query: str, *, limit: int = 20, offset: int = 0,
               filters: Filters | None = None, explain: bool = True) -> LexicalHits:
        """The best papers for a search box's text, best first; none for text with no words.

        With `explain=False` hits carry only id, score, rank and `fuzzy`: a caller that shows
        few of many candidates (hybrid search) explains just those with `explain()`.
        """
        parsed, compiled = self._compiled(query)
        if compiled is None or limit <= 0:
            return LexicalHits()
        offset = max(0, offset)
        searcher = self._searcher()
        restrict = _filter_clauses(self._schema, filters)
        exact = searcher.search(_restricted(compiled.query, restrict), limit=limit,
                                offset=offset, count=True)
        wanted = offset + limit
        total: int = exact.count  # type: ignore[attr-defined]  # missing from tantivy's stubs
        if total >= min(FUZZY_BELOW, wanted) or compiled.fuzzy is None:
            found = [(score, address, False) for score, address in exact.hits]
        else:
            found = self._with_typos(searcher, compiled, restrict, total, wanted)
            found = found[offset:wanted]
        if not explain:
            hits = LexicalHits(LexicalHit(id=searcher.doc(address)["id"][0], score=float(score),
                                          rank=rank, fuzzy=fuzzy)
                               for rank, (score, address, fuzzy)
                               in enumerate(found, start=offset + 1))
            hits.searcher = searcher
            hits.addresses = {hit.id: address for hit, (_, address, _)
                              in zip(hits, found, strict=True)}
        else:
            typos = any(fuzzy for _, _, fuzzy in found)
            hits = LexicalHits(self._hits(searcher, found, offset, compiled.marks,
                                          compiled.typo_labels if typos else compiled.labels,
                                          compiled.label_stems, parsed if typos else None))
        hits.total = total
        return hits

    @_reads
    def explain(self, query: str, hits: list[LexicalHit], *,
                found_in: LexicalHits | None = None,
                texts: Mapping[str, tuple[str, str]] | None = None) -> list[LexicalHit]:
        """The given hits of `search(query, explain=False)` with matched terms and snippets;
        `found_in`, the hits that search returned, says where they are in the index, and
        `texts` the papers' titles and abstracts where the caller has them already."""
        parsed, compiled = self._compiled(query)
        if compiled is None or not hits:
            return hits
        ids = [hit.id for hit in hits]
        if found_in is not None and found_in.searcher is not None and \
                all(paper_id in found_in.addresses for paper_id in ids):
            searcher, address = found_in.searcher, found_in.addresses
        else:
            searcher = self._searcher()
            located = searcher.search(Query.term_set_query(self._schema, "id", ids),
                                      limit=len(ids)).hits
            address = {searcher.doc(a)["id"][0]: a for _, a in located}
        kept = [hit for hit in hits if hit.id in address]
        found = [(hit.score, address[hit.id], hit.fuzzy) for hit in kept]
        typos = any(hit.fuzzy for hit in kept)
        explained = self._hits(searcher, found, 0, compiled.marks,
                               compiled.typo_labels if typos else compiled.labels,
                               compiled.label_stems, parsed if typos else None, texts,
                               ids=[hit.id for hit in kept])
        for hit, original in zip(explained, kept, strict=True):
            hit.rank = original.rank
        return explained

    @_reads
    def passing(self, query: str, ids: list[str]) -> set[str]:
        """Which of `ids` meet the query's `author:`, `title:` and `-word` operators."""
        parsed = parse_user_query(query)
        if not parsed.constrained or not ids:
            return set(ids)
        clauses = _operator_clauses(self._schema, parsed, [], Marks())
        searcher = self._searcher()
        found = searcher.search(Query.boolean_query(
            [(Occur.Must, Query.term_set_query(self._schema, "id", ids))] + clauses),
            limit=len(ids)).hits
        return {searcher.doc(address)["id"][0] for _, address in found}

    def _compile(self, query: str) -> tuple[UserQuery, _Compiled | None]:
        parsed = parse_user_query(query)
        return parsed, _compile(self._schema, parsed)

    def _with_typos(self, searcher: tantivy.Searcher, compiled: _Compiled,
                    restrict: list[Query], count: int, wanted: int,
                    ) -> list[tuple[float, tantivy.DocAddress, bool]]:
        """The (few) exact hits, then typo-tolerant ones, up to `wanted`."""
        assert compiled.fuzzy is not None
        exact = searcher.search(_restricted(compiled.query, restrict), limit=max(count, 1)).hits
        seen = {searcher.doc(address)["id"][0] for _, address in exact}
        fuzzy = searcher.search(_restricted(compiled.fuzzy, restrict),
                                limit=wanted + len(exact)).hits
        floor = min((score for score, _ in exact), default=1.0)
        top = max((score for score, _ in fuzzy), default=1.0)
        found = [(score, address, False) for score, address in exact]
        for score, address in fuzzy:
            if searcher.doc(address)["id"][0] not in seen:
                # keep scores in rank order: every typo hit scores below the last exact hit
                found.append((0.9 * floor * score / top, address, True))
        return found[:wanted]

    @_reads
    def more_like_this(self, paper_id: str, *, limit: int = 20,
                       filters: Filters | None = None) -> list[LexicalHit]:
        """Papers sharing this paper's title words and most distinctive abstract words.

        For papers without a vector; never returns the paper itself, and [] if it is not
        indexed.
        """
        if limit <= 0:
            return []
        searcher = self._searcher()
        own = searcher.search(Query.term_query(self._schema, "id", paper_id), limit=1).hits
        if not own:
            return []
        title, abstract = self._texts_of([paper_id]).get(paper_id, ("", ""))
        weights, surface = _distinctive_terms(searcher, title, abstract)
        if not weights:
            return []
        labels = []
        for stem, weight in weights.items():
            labels.append((surface[stem], Query.boolean_query([
                (Occur.Should, _boosted(Query.term_query(self._schema, "title", stem),
                                        TITLE_BOOST * weight)),
                (Occur.Should, _boosted(Query.term_query(self._schema, "abstract", stem),
                                        ABSTRACT_BOOST * weight))])))
        text_query = Query.boolean_query([(Occur.Should, q) for _, q in labels])
        query = Query.boolean_query(
            [(Occur.Must, text_query),
             (Occur.MustNot, Query.term_query(self._schema, "id", paper_id))]
            + [(Occur.Must, clause) for clause in _filter_clauses(self._schema, filters)])
        found = [(score, address, False)
                 for score, address in searcher.search(query, limit=limit).hits]
        marks = Marks()
        marks.add(weights)
        return self._hits(searcher, found, 0, marks, labels,
                          [frozenset((stem,)) for stem in weights], None)

    def _hits(self, searcher: tantivy.Searcher,
              found: list[tuple[float, tantivy.DocAddress, bool]], offset: int,
              marks: Marks, labels: list[tuple[str, Query]],
              stems: list[frozenset[str] | None], typos: UserQuery | None,
              texts: Mapping[str, tuple[str, str]] | None = None,
              ids: list[str] | None = None) -> list[LexicalHit]:
        """Hits with their explanations. `marks` are the stems to mark in snippets; `labels`
        name the query's parts (words, phrases) for `matched_terms`, and `stems` say which
        stems match each (`_Compiled.label_stems`); `typos` is the query when some hits came
        from the typo fallback; `texts` the hits' titles and abstracts, and `ids` their ids,
        when the caller has them.

        A paper's matched labels are read off the words marked in its title and abstract
        (every match, as the text field holds the same stems), so explaining a page asks the
        index nothing more."""
        if not found:
            return []
        if ids is None:
            ids = [searcher.doc(address)["id"][0] for _, address, _ in found]
        if texts is None:
            texts = self._texts_of(ids)
        asked = {paper_id: address for paper_id, (_, address, _) in zip(ids, found, strict=True)
                 if typos is not None or paper_id not in texts}
        matched = _matched_labels(searcher, self._schema, labels, asked) if asked else {}
        # tantivy's snippet weight of a stem: 1 / (1 + its abstracts' document frequency)
        weight = functools.cache(lambda stem: 1.0 / (1.0 + searcher.doc_freq("abstract", stem)))
        hits = []
        for rank, ((score, _, fuzzy), paper_id) in enumerate(zip(found, ids, strict=True),
                                                             start=offset + 1):
            title, abstract = texts.get(paper_id, ("", ""))
            in_title, in_abstract = marks.title, marks.abstract
            terms = matched.get(paper_id, [])
            if typos is not None and paper_id not in texts:
                terms = []  # which stored word matched the typo cannot be told without the text
            elif typos is not None:  # mark the paper's spelling of the mistyped words
                near = _near_spellings(typos, f"{title}\n{abstract}")
                # say which stored word it matched, never that the paper holds the typo
                terms = [f"close to: {', '.join(near[t][:3])}" if t in near else t
                         for t in terms]
                near_stems = {stem for words in near.values() for word in words
                              for stem in _EN.analyze(word)}
                in_title, in_abstract = in_title | near_stems, in_abstract | near_stems
            title_spans, title_stems = find(title, in_title, word_stem)
            abstract_spans, abstract_stems = find(abstract, in_abstract, word_stem)
            if paper_id not in asked:
                terms = _held_labels(labels, stems, {*title_stems, *abstract_stems})
            written = {text[a:b].lower() for text, spans in ((title, title_spans),
                                                              (abstract, abstract_spans))
                       for a, b in spans}
            terms = [as_written(term, written) for term in terms]
            shown = passage(abstract, abstract_spans, [weight(s) for s in abstract_stems],
                            SNIPPET_CHARS)
            hits.append(LexicalHit(
                id=paper_id, score=float(score), rank=rank, matched_terms=terms,
                snippet=marked(abstract, abstract_spans, *shown) or _lead(abstract),
                title_snippet=marked(title, title_spans) or html.escape(title),
                fuzzy=fuzzy))
        return hits

    def _texts_of(self, ids: Sequence[str]) -> Mapping[str, tuple[str, str]]:
        return self._texts(ids) if self._texts is not None and ids else {}

    def _searcher(self) -> tantivy.Searcher:
        return self._open_index().searcher()

    def _open_index(self) -> tantivy.Index:
        if self._index is None:
            raise LexicalIndexError(f"the lexical index at {self.path} is closed")
        return self._index



class LexicalWriter:
    """Adds and deletes documents inside `LexicalIndex.writer()`; see there."""

    def __init__(self, raw: tantivy.IndexWriter, index: tantivy.Index) -> None:
        self.raw = raw
        self._index = index

    def upsert(self, papers: Iterable[dict[str, Any]], *,
               is_new: Callable[[dict[str, Any]], bool] | None = None) -> int:
        n = 0
        for paper in papers:
            doc = _document(paper)
            if is_new is None or not is_new(paper):
                self.raw.delete_documents_by_term("id", paper["id"])
            self.raw.add_document(doc)
            n += 1
        return n

    def delete(self, ids: Iterable[str]) -> None:
        for paper_id in ids:
            self.raw.delete_documents_by_term("id", paper_id)

    def commit(self) -> None:
        """Make everything written so far searchable (and durable)."""
        self.raw.commit()
        self._index.reload()


def _document(paper: dict[str, Any]) -> tantivy.Document:
    try:
        title, abstract = paper.get("title") or "", paper.get("abstract") or ""
        # stemmed words in their American spelling, as the queries read them (`spelling`)
        spelt_title, spelt_abstract = american_text(title), american_text(abstract)
        doc = tantivy.Document()
        doc.add_text("id", paper["id"])
        doc.add_text("text", f"{spelt_title}\n{spelt_abstract}")
        doc.add_text("pairs", adjacent_pairs(f"{spelt_title}\n{spelt_abstract}"))
        doc.add_text("title", spelt_title)
        doc.add_text("title_words", title)
        doc.add_text("abstract", spelt_abstract)
        doc.add_text("abstract_words", abstract)
        for author in paper.get("authors") or ():
            doc.add_text("authors", author)
        for category in paper.get("categories") or ():
            doc.add_text("categories", category)
        published = paper.get("published")
        if published is not None:
            doc.add_date("published", _utc(published))
        doc.add_boolean("has_code", bool((paper.get("links") or {}).get("code")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LexicalIndexError(f"paper {paper.get('id')!r} cannot be indexed: {exc!r}") \
            from exc
    return doc


# -- the folder --------------------------------------------------------------------------------


def _unusable(path: Path) -> str | None:
    """Why the folder cannot be reused as it is, or None when its schema version is current."""
    try:
        meta = json.loads((path / _META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "the index is new"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{_META} is unreadable ({exc})"
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        found = meta.get("schema_version") if isinstance(meta, dict) else None
        return f"schema version {found} on disk, {SCHEMA_VERSION} expected"
    if not (path / _TANTIVY_DIR).is_dir():
        return "the index files are missing"
    return None


def _new_tantivy(path: Path) -> tantivy.Index:
    """An empty tantivy index in `path`, replacing whatever files were there."""
    shutil.rmtree(path / _TANTIVY_DIR, ignore_errors=True)
    (path / _TANTIVY_DIR).mkdir()
    index = tantivy.Index(_schema(), path=str(path / _TANTIVY_DIR), reuse=False)
    _write_meta(path, {"schema_version": SCHEMA_VERSION, "watermark": None})
    _register_tokenizers(index)
    return index


def _register_tokenizers(index: tantivy.Index) -> None:
    index.register_tokenizer(_NAME_TOKENIZER, _NAME)
    index.register_tokenizer(_CATEGORY_TOKENIZER, _CATEGORY)
    index.register_tokenizer(_PAIRS_TOKENIZER, PAIRS)


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    temporary = path / f".{_META}.tmp"
    temporary.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(temporary, path / _META)
