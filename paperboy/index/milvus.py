"""Search on Milvus (`PAPERBOY_MILVUS_URI`): words and meaning in one collection.

One row per paper: `words` (its title, abstract and author names, already reduced to the English
stems the local word index uses) feeds a BM25 function whose sparse output has an inverted index;
`vector` (nullable: papers are findable by words before they have one) has an HNSW index; the
filters are scalar fields (`published`, `categories`, `has_code`). Hybrid mode asks both and
fuses them as the local searcher does. The store stays the truth: hits are read from it, and
`sync_milvus` upserts what changed since the watermarks kept in the collection's properties, so
every pass is idempotent by paper id and a killed one resumes where it stopped.

This module keeps the collection (`MilvusCollection`, `MilvusVectors`) and fills it
(`sync_milvus`, `reindex_milvus`); `milvus_search.py` answers searches from it. Milvus does not
say why a paper matched, so matched words and marked snippets are worked out there for the
shown hits, beside each retriever's rank and score.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

from paperboy.index.lexical_query import (
    name_tokens,
    word_stems,
)
from paperboy.progress import Progress
from paperboy.store import Store
from paperboy.store.tables import embeddings, papers

__all__ = ["MilvusCollection", "MilvusUnavailable", "MilvusVectors", "reindex_milvus",
           "sync_milvus"]

SCHEMA_VERSION = 2  # 2: words in their American spelling (index/spelling.py)
BATCH_SIZE = 500  # rows per upsert (and per watermark step)
# BM25 as tantivy scores it (k1 1.2, b 0.75). One BM25 function reads one field, so the title's
# weight (1.5 in the local index) is had by writing it twice: dev-set lexical nDCG@10 0.970,
# against 0.945 with the title once.
BM25_PARAMS = {"bm25_k1": 1.2, "bm25_b": 0.75}
TITLE_REPEAT = 2
# As the local HNSW graph (index/vectors.py): connectivity 16, expansion 64 / 128.
HNSW_PARAMS = {"M": 16, "efConstruction": 64}
EF_SEARCH = 128
EMBEDDED_TTL_S = 30.0  # how long a count of the embedded papers words search notices
WORDS_MAX_BYTES = 65_535  # Milvus' VARCHAR limit
ID_MAX = 300  # as papers.id in the store
CATEGORIES_MAX, CATEGORY_MAX = 64, 64
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,63}$")
_STOP = TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.lowercase()).filter(
    Filter.stopword("english")).build()
_P = "paperboy."  # prefix of the collection properties Paperboy keeps


class MilvusUnavailable(Exception):
    """Milvus cannot be used: the client is not installed, or the URI cannot be opened."""


# -- the collection ----------------------------------------------------------------------------


@dataclass
class MilvusCollection:
    """A Paperboy collection in Milvus, for one embedding model (`dim` None: words only)."""

    client: Any
    name: str
    model: str
    dim: int | None
    rebuilt_reason: str | None = None  # why it was (re)created when opened, for the log
    _embedded: tuple[float, int] | None = None  # (when, rows with a vector), see embedded()

    @classmethod
    def open(cls, uri: str, name: str, *, model: str, dim: int | None) -> MilvusCollection:
        """Open the collection, creating it, or recreating it empty when it was made by another
        schema version or model (the caller refills it from the store)."""
        try:
            from pymilvus import MilvusClient, MilvusException
        except ImportError:
            raise MilvusUnavailable("PAPERBOY_MILVUS_URI is set but pymilvus is not installed: "
                                    "pip install 'paperboy[milvus]'") from None
        try:
            if uri.endswith(".db"):  # Milvus Lite: a folder of files
                Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
            client = MilvusClient(uri)
        except MilvusException as error:
            lite = "; a Milvus Lite file is usable by one process at a time" \
                if uri.endswith(".db") else ""
            raise MilvusUnavailable(f"cannot open Milvus at {uri!r} ({error}){lite}") from None
        collection = cls(client, name, model, dim)
        if not client.has_collection(name):
            collection._create("the collection is new")
            return collection
        props = collection.properties()
        stored_dim = int(props.get(_P + "dim") or 0) or None
        if props.get(_P + "schema_version") != str(SCHEMA_VERSION):
            collection._create(f"schema {props.get(_P + 'schema_version')} in Milvus, "
                               f"{SCHEMA_VERSION} expected")
        elif props.get(_P + "model") != model:
            collection._create(f"made for model {props.get(_P + 'model')!r}, not {model!r}")
        elif dim is not None and stored_dim != dim:
            collection._create(f"vectors of dimension {stored_dim}, {dim} expected")
        else:
            collection.dim = stored_dim
            client.load_collection(name)
        return collection

    def recreate(self) -> None:
        self._create("rebuilt on request")

    def _create(self, reason: str) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        self._embedded = None
        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX)
        # `words` holds stems already: the standard analyzer only splits them on spaces
        schema.add_field("words", DataType.VARCHAR, max_length=WORDS_MAX_BYTES,
                         enable_analyzer=True, enable_match=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="words_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["words"], output_field_names=["sparse"]))
        schema.add_field("published", DataType.INT64, nullable=True)  # epoch seconds, UTC
        schema.add_field("categories", DataType.ARRAY, element_type=DataType.VARCHAR,
                         max_capacity=CATEGORIES_MAX, max_length=CATEGORY_MAX)
        schema.add_field("has_code", DataType.BOOL)
        # Milvus Lite returns a null vector as zeros to a dense search: the flag filters them.
        schema.add_field("has_vector", DataType.BOOL)
        index = self.client.prepare_index_params()
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                        metric_type="BM25", params=BM25_PARAMS)
        if self.dim is not None:
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim, nullable=True)
            index.add_index(field_name="vector", index_type="HNSW", metric_type="COSINE",
                            params=HNSW_PARAMS)
        self.client.create_collection(
            self.name, schema=schema, index_params=index, consistency_level="Strong",
            properties={_P + "schema_version": str(SCHEMA_VERSION), _P + "model": self.model,
                        _P + "dim": str(self.dim or 0)})
        self.client.load_collection(self.name)
        self.rebuilt_reason = reason

    def properties(self) -> dict[str, str]:
        return dict(self.client.describe_collection(self.name).get("properties") or {})

    def set_properties(self, **values: str) -> None:
        self.client.alter_collection_properties(
            self.name, properties={_P + key: value for key, value in values.items()})

    def upsert(self, rows: list[dict[str, Any]]) -> None:
        """Insert or replace rows. Rows without a vector are written as partial updates: Milvus
        Lite rejects a batch whose nullable vectors are all null (and a paper's vector only
        leaves the store with its model, which rebuilds the collection)."""
        self._embedded = None
        whole = [row for row in rows if "vector" in row]
        if whole:
            self.client.upsert(self.name, whole)
        if len(whole) < len(rows):
            self.client.upsert(self.name, [row for row in rows if "vector" not in row],
                               partial_update=True)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._embedded = None
            self.client.delete(self.name, ids=list(ids))

    def embedded(self) -> int:
        """Rows with a vector, as counted at most EMBEDDED_TTL_S ago or since this process last
        wrote (counting is a scan: 0.6 s of every search at 5k papers on Milvus Lite)."""
        if self.dim is None:
            return 0
        if self._embedded is None or time.monotonic() - self._embedded[0] > EMBEDDED_TTL_S:
            self._embedded = (time.monotonic(), self.count("has_vector == true"))
        return self._embedded[1]

    def count(self, expr: str = "") -> int:
        rows = self.client.query(self.name, filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `ids` that have one."""
        if self.dim is None or not ids:
            return {}
        rows = self.client.get(self.name, ids=list(ids), output_fields=["vector", "has_vector"])
        return {row["id"]: np.asarray(row["vector"], dtype=np.float32)
                for row in rows if row.get("has_vector")}

    def passing(self, ids: Sequence[str], expr: str) -> set[str]:
        """Those of `ids` whose rows match the filter expression."""
        found = self.client.query(self.name, filter=_both(f"id in {json.dumps(list(ids))}", expr),
                                  output_fields=["id"])
        return {row["id"] for row in found}

    def by_words(self, text: str, *, limit: int, expr: str) -> list[tuple[str, float]]:
        return self._search(text, "sparse", {}, limit, expr, bm25=True)

    def by_vector(self, vector: np.ndarray, *, limit: int, expr: str) -> list[tuple[str, float]]:
        return self._search(vector.tolist(), "vector", {"ef": max(EF_SEARCH, limit)}, limit,
                            _both("has_vector == true", expr))

    def _search(self, data: Any, field: str, params: dict[str, Any], limit: int, expr: str,
                *, bm25: bool = False) -> list[tuple[str, float]]:
        found = self.client.search(self.name, data=[data], anns_field=field, limit=limit,
                                   filter=expr, search_params={"params": params},
                                   output_fields=["id"])
        # Milvus Lite reports a BM25 score as a negative distance (a server, as positive)
        return [(hit["id"], abs(float(hit["distance"])) if bm25 else float(hit["distance"]))
                for hit in found[0]]

    def close(self) -> None:
        self.client.close()


class MilvusVectors:
    """`VectorIndex` on the collection's `vector` field, so `paperboy embed` writes to Milvus.

    Rows are written whole (the paper from the store, with its new vector): an upsert, so a
    batch written twice is harmless.
    """

    def __init__(self, collection: MilvusCollection, store: Store) -> None:
        if collection.dim is None:
            raise ValueError("this Milvus collection holds no vectors (it was made words-only)")
        self.collection, self.store = collection, store
        self.model, self.dim = collection.model, collection.dim

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        rows = self.store.papers_by_ids(ids)
        self.collection.upsert([milvus_row(rows[i], vectors[n]) for n, i in enumerate(ids)
                                if i in rows])

    def remove(self, ids: Iterable[str]) -> None:
        """Papers still stored stay findable by words; the rows of others are deleted."""
        ids = list(ids)
        rows = self.store.papers_by_ids(ids)
        self.collection.upsert([milvus_row(paper, None) for paper in rows.values()])
        self.collection.delete([i for i in ids if i not in rows])

    def search(self, vector: np.ndarray, *, limit: int, allowed: Collection[str] | None = None,
               exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        expr = _both(f"id in {json.dumps(list(allowed))}" if allowed is not None else "",
                     f"id not in {json.dumps(list(exclude))}" if exclude else "")
        return self.collection.by_vector(vector, limit=limit, expr=expr)

    def vector(self, id: str) -> np.ndarray | None:
        return self.collection.vectors([id]).get(id)

    def similarities(self, vector: np.ndarray, ids: Collection[str]) -> dict[str, float]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        return {paper_id: float(np.asarray(stored, dtype=np.float32) @ query)
                for paper_id, stored in self.collection.vectors(list(ids)).items()}

    def ids(self) -> set[str]:
        iterator = self.collection.client.query_iterator(
            self.collection.name, batch_size=BATCH_SIZE * 10, filter="has_vector == true",
            output_fields=["id"])
        found: set[str] = set()
        while batch := iterator.next():
            found.update(row["id"] for row in batch)
        iterator.close()
        return found

    def __len__(self) -> int:
        return self.collection.count("has_vector == true")

    def save(self) -> None:
        pass  # every upsert is durable when it returns

    def close(self) -> None:
        pass  # the collection belongs to the searcher


# -- keeping it in step with the store ---------------------------------------------------------


def sync_milvus(store: Store, collection: MilvusCollection, progress: Progress, *,
                batch_size: int = BATCH_SIZE) -> int:
    """Upsert every paper changed, and every vector stored, since the collection's watermarks;
    drop the rows of papers that got a better id. Returns the rows written."""
    props = collection.properties()
    until = _when(props.get(_P + "papers_until"))
    if until is None and collection.dim is not None and not props.get(_P + "vectors_until"):
        # a first pass writes the vectors stored so far with their papers
        collection.set_properties(vectors_until=_newest_vector(store, collection.model))
    with store.engine.connect() as conn:
        count = select(func.count()).select_from(papers)
        total = conn.execute(count.where(papers.c.last_changed > until) if until else count
                             ).scalar_one()
    written = 0
    if total:
        progress.start(f"indexing in Milvus ({collection.name})", total=total, unit="papers")
        for batch in _stepped(store.changed_since(until, batch=batch_size), "last_changed",
                              collection, "papers_until"):
            ids = [paper["id"] for paper in batch]
            vectors = _stored_vectors(store, collection, ids)
            collection.upsert([milvus_row(paper, vectors.get(paper["id"])) for paper in batch])
            collection.delete(store.aliases_of(ids))
            written += len(batch)
            progress.update(written)
        progress.finish()
    if collection.dim is not None:
        written += _sync_vectors(store, collection, progress, batch_size)
    if written:  # seal what was written, so it is searched through its indexes
        collection.client.flush(collection.name)
    if props.get(_P + "filled") != "true":
        collection.set_properties(filled="true")
    return written


def _sync_vectors(store: Store, collection: MilvusCollection, progress: Progress,
                  batch_size: int) -> int:
    since = _when(collection.properties().get(_P + "vectors_until"))
    query = select(embeddings.c.paper_id, embeddings.c.created_at).where(
        embeddings.c.model == collection.model).order_by(embeddings.c.created_at)
    if since is not None:
        query = query.where(embeddings.c.created_at > since)

    def stored() -> Iterator[list[dict[str, Any]]]:
        with store.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
                query)
            for part in result.partitions(batch_size):
                yield [{"id": paper_id, "created_at": at} for paper_id, at in part]

    written = 0
    for batch in _stepped(stored(), "created_at", collection, "vectors_until"):
        if not written:
            progress.start("indexing vectors in Milvus", total=None, unit="papers")
        ids = [row["id"] for row in batch]
        rows, vectors = store.papers_by_ids(ids), _stored_vectors(store, collection, ids)
        collection.upsert([milvus_row(rows[i], vectors.get(i)) for i in ids if i in rows])
        written += len(batch)
        progress.update(written)
    if written:
        progress.finish()
    return written


def _stepped(batches: Iterator[list[dict[str, Any]]], key: str, collection: MilvusCollection,
             watermark: str) -> Iterator[list[dict[str, Any]]]:
    """Yield batches ordered by `key`; after each is written, move the watermark to the last
    value no later batch can share (rows written together share one change time)."""
    last = None
    for batch in batches:
        yield batch
        last = batch[-1][key]
        done = [row[key] for row in batch if row[key] < last]
        if done:
            collection.set_properties(**{watermark: max(done).isoformat()})
    if last is not None:
        collection.set_properties(**{watermark: last.isoformat()})


def reindex_milvus(store: Store, collection: MilvusCollection, progress: Progress, *,
                   batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Refill the collection from the store; a refill that was interrupted is resumed, not
    restarted. Returns {"lexical": rows, "vectors": rows with a vector}."""
    if collection.properties().get(_P + "filled") == "true":
        collection.recreate()
    sync_milvus(store, collection, progress, batch_size=batch_size)
    return {"lexical": collection.count(), "vectors": collection.count("has_vector == true")}



def milvus_row(paper: dict[str, Any], vector: np.ndarray | None) -> dict[str, Any]:
    """A paper as a row of the collection (vector None: it has none yet)."""
    published = paper.get("published")
    row = {"id": paper["id"], "words": words_text(paper),
           "published": int(published.timestamp()) if published else None,
           "categories": [c.lower()[:CATEGORY_MAX] for c in paper.get("categories") or ()
                          ][:CATEGORIES_MAX],
           "has_code": bool((paper.get("links") or {}).get("code")),
           "has_vector": vector is not None}
    if vector is not None:
        row["vector"] = np.asarray(vector, dtype=np.float32).tolist()
    return row


def words_text(paper: dict[str, Any]) -> str:
    """What BM25 reads: title stems (TITLE_REPEAT times), abstract stems, author name tokens."""
    title = " ".join(word_stems(paper.get("title") or ""))
    parts = [title] * TITLE_REPEAT + [" ".join(word_stems(paper.get("abstract") or ""))]
    parts += [" ".join(name_tokens(author)) for author in paper.get("authors") or ()]
    text = " ".join(p for p in parts if p)
    if len(text.encode()) > WORDS_MAX_BYTES:  # a thousand-author paper: cut at a word
        text = text.encode()[:WORDS_MAX_BYTES].decode(errors="ignore").rsplit(" ", 1)[0]
    return text


def _stored_vectors(store: Store, collection: MilvusCollection,
                    ids: Sequence[str]) -> dict[str, np.ndarray]:
    if collection.dim is None or not ids:
        return {}
    with store.engine.connect() as conn:
        rows = conn.execute(select(embeddings.c.paper_id, embeddings.c.vector).where(
            embeddings.c.model == collection.model, embeddings.c.paper_id.in_(list(ids))))
        return {r.paper_id: np.frombuffer(r.vector, dtype=np.float32) for r in rows}


def _newest_vector(store: Store, model: str) -> str:
    with store.engine.connect() as conn:
        newest = conn.execute(select(embeddings.c.created_at).where(
            embeddings.c.model == model).order_by(embeddings.c.created_at.desc()).limit(1)
        ).scalar()
    return (newest or datetime(1970, 1, 1, tzinfo=UTC)).isoformat()


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- searching ---------------------------------------------------------------------------------


def _both(*exprs: str) -> str:
    return " and ".join(f"({e})" for e in exprs if e)
