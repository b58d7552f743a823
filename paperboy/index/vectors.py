"""Vector index: paper id -> unit vector, nearest neighbours by cosine similarity.

`VectorIndex` is the small interface the service uses; `HnswIndex` implements it with a usearch
HNSW graph in one folder of the home, and a Milvus backend can implement it later. The index is
derived data: it records the embedding model and dimension it was built with, and opening it
for any other model, dimension or schema gives an empty index with `rebuilt_fresh = True`, so
the caller re-embeds everything instead of mixing two models' vectors.

Folder layout (all written by `save()`):

    meta.json        {"schema_version", "model", "dim", "count", "checksums", ...}
    vectors.usearch  the usearch graph and its int8 vectors, keyed by uint64
    keys.json        {"ids": [...]}: paper id of each usearch key (key = position; null = free)
    exact.f16        each key's vector in f16, row `key` at byte key * dim * 2 (zeros if free)

The graph walks int8 vectors (a quarter of f32, half of f16 in memory); the candidates it finds
are then ranked by their f16 vectors, read from `exact.f16` as they are needed (only rows added
since the last save are held in memory; the file stays in the operating system's page cache,
which it may drop); a loaded graph is itself mapped from `vectors.usearch`, read-only, until
it is first changed (`_own`). Measured on
38k all-MiniLM-L6-v2 vectors of arXiv papers: int8 alone finds 0.93 of the true top 10 and 0.945
of the top 100; re-ranking the beam by f16 vectors finds 0.99 of both, as an f16 graph does.

A save writes `*.tmp` copies, then a `commit` marker, then renames them into place; `open()`
finishes a committed save or discards an uncommitted one, so a kill -9 at any moment leaves
either the previous or the new version readable, never a mix. `meta.json` holds the CRC-32 of
the other two files; a file that no longer matches is damage, and the index starts empty for the
caller to refill from the store.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from paperboy.index.integrity import file_crc32

__all__ = ["SCHEMA_VERSION", "HnswIndex", "VectorIndex"]

SCHEMA_VERSION = 2  # 2: an int8 graph beside exact.f16

VECTORS_FILE = "vectors.usearch"
KEYS_FILE = "keys.json"
EXACT_FILE = "exact.f16"
META_FILE = "meta.json"
COMMIT_FILE = "commit"
_DATA_FILES = (VECTORS_FILE, KEYS_FILE, EXACT_FILE, META_FILE)

# The graph's vectors: int8 is 384 B/vector at 384-d, about 0.7 kB with the graph; the ranking
# comes from EXACT_DTYPE vectors on disk (see the module docstring).
DTYPE = "i8"
EXACT_DTYPE = np.float16
METRIC = "cos"
# Measured on 106k all-MiniLM-L6-v2 vectors of arXiv titles and abstract sentences (2 cores):
# connectivity 16 / expansion 128 gives recall@10 0.99 at ~1 ms; connectivity 32 with
# expansion_search 512 reaches 0.999 but costs ~5 ms a query. Building with expansion_add 64
# instead of 128 is 1.5x faster (what keeps a 1M-paper build under 30 minutes on 2 cores) and
# keeps recall@10 above 0.95 on text-like vectors (tests/test_vector_index.py).
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 128
# A beam of 128 finds 0.97 of the true top 10 on 33k arXiv vectors but only 0.90 of the top 100
# that hybrid search fuses (and method queries lost 0.1 nDCG@10 to it); a beam of 2.5x the
# results asked finds 0.96 of the top 100 and made hybrid equal to exact search there
# (bench/quality.py, 2026-12-01).
BEAM_PER_RESULT = 2.5
# Up to this many vectors a search scans them all (usearch's SIMD exact search, ~65 ns a
# vector: ~2 ms at the threshold, a tenth of embedding the query on a CPU) and is exact.
# Above it the graph answers in ~1 ms. Uniformly random 384-d vectors, the worst case for any
# graph, need the scan: the graph finds only ~45% of their true top 10 at these settings.
FULL_SCAN_THRESHOLD = 32_768
# Allowed sets up to this size are scored exactly from their stored vectors.
EXACT_ALLOWED_LIMIT = 4096


@runtime_checkable
class VectorIndex(Protocol):
    """Ids with unit vectors of one embedding model; cosine nearest-neighbour search."""

    model: str
    dim: int

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace (upsert) the vectors of `ids`; `vectors` has shape (len(ids), dim)."""
        ...

    def remove(self, ids: Iterable[str]) -> None:
        """Forget `ids`; unknown ids are ignored."""
        ...

    def search(
        self,
        vector: np.ndarray,
        *,
        limit: int,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """Up to `limit` (id, cosine similarity) pairs, best first.

        With `allowed`, only those ids are returned, and `limit` of them whenever that many
        are indexed: filtering happens inside the search, not after truncation.
        """
        ...

    def vector(self, id: str) -> np.ndarray | None: ...

    def similarities(self, vector: np.ndarray, ids: Collection[str]) -> dict[str, float]:
        """The cosine of `vector` with each of `ids` that has a vector."""
        ...

    def ids(self) -> set[str]: ...

    def __len__(self) -> int: ...

    def save(self) -> None: ...

    def close(self) -> None: ...


class HnswIndex:
    """`VectorIndex` on a usearch HNSW graph (cosine, int8, re-ranked in f16) in one folder.

    Build with `HnswIndex.open(path, model=..., dim=...)`. Paper ids map to sequential uint64
    keys; re-adding an id keeps its key and replaces its vector. Methods are serialised by a
    lock, so one instance can be shared by a web server's threads and a background embedder.
    """

    def __init__(
        self,
        path: Path,
        *,
        model: str,
        dim: int,
        connectivity: int = CONNECTIVITY,
        expansion_add: int = EXPANSION_ADD,
        expansion_search: int = EXPANSION_SEARCH,
        full_scan_threshold: int = FULL_SCAN_THRESHOLD,
        exact_allowed_limit: int = EXACT_ALLOWED_LIMIT,
        threads: int = 0,
    ) -> None:
        """An empty index for `model`/`dim` that will save to `path` (see `open`)."""
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if not model:
            raise ValueError("model name must not be empty")
        self.path = Path(path)
        self.model = model
        self.dim = dim
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.expansion_search = expansion_search
        self.full_scan_threshold = full_scan_threshold
        self.exact_allowed_limit = exact_allowed_limit
        self.threads = threads
        self.rebuilt_fresh = False
        # Why the folder was not reused (when rebuilt_fresh); for logs and `stats`.
        self.rebuilt_reason: str | None = None
        self._lock = threading.RLock()
        self._index: Any = self._new_usearch()
        self._id_of_key: list[str | None] = []
        self._key_of_id: dict[str, int] = {}
        # f16 rows added since the last save, by key; older ones are read from `_exact`
        self._pending: dict[int, np.ndarray] = {}
        self._exact: Any = None  # the loaded exact.f16, open for reading
        self._mapped = False  # the graph is vectors.usearch mapped read-only, not a copy
        self._dirty = False

    # -- opening and saving ----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        model: str,
        dim: int,
        connectivity: int = CONNECTIVITY,
        expansion_add: int = EXPANSION_ADD,
        expansion_search: int = EXPANSION_SEARCH,
        full_scan_threshold: int = FULL_SCAN_THRESHOLD,
        exact_allowed_limit: int = EXACT_ALLOWED_LIMIT,
        threads: int = 0,
    ) -> Self:
        """Load the index in `path`, or start empty (`rebuilt_fresh`) if it does not match.

        A folder saved for another model, dimension or schema version, or with missing or
        unreadable files, is not reused: the caller must re-add every vector. A folder that
        does not exist yet is simply empty (`rebuilt_fresh` False, nothing to rebuild).
        """
        index = cls(
            Path(path),
            model=model,
            dim=dim,
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
            full_scan_threshold=full_scan_threshold,
            exact_allowed_limit=exact_allowed_limit,
            threads=threads,
        )
        if (index.path / COMMIT_FILE).exists():
            index._roll_forward()
        if not any((index.path / name).exists() for name in _DATA_FILES):
            return index
        for attempt in range(3):
            reason, torn = index._load()
            if not torn:
                break
            # Files from two saves: another process is saving right now. Read again.
            time.sleep(0.05 * (attempt + 1))
            if (index.path / COMMIT_FILE).exists():
                index._roll_forward()
        if reason is not None:
            index._reset()
            index.rebuilt_fresh = True
            index.rebuilt_reason = reason
        return index

    def _new_usearch(self) -> Any:
        Index = _usearch().Index  # noqa: N806 - the class

        return Index(
            ndim=self.dim,
            metric=METRIC,
            dtype=DTYPE,
            connectivity=self.connectivity,
            expansion_add=self.expansion_add,
            expansion_search=self.expansion_search,
        )

    def _reset(self) -> None:
        self._index = self._new_usearch()
        self._mapped = False
        self._id_of_key = []
        self._key_of_id = {}
        self._pending = {}
        if self._exact is not None:
            self._exact.close()
            self._exact = None

    def _load(self) -> tuple[str | None, bool]:
        """Fill this index from its folder.

        Returns why the folder cannot be reused (None if it was loaded) and whether the files
        came from two different saves (worth reading again).
        """
        self._reset()
        try:
            meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"{META_FILE} unreadable: {exc}", False
        if not isinstance(meta, dict):
            return f"{META_FILE} is not an object", False
        expected = {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "dim": self.dim,
            "metric": METRIC,
            "dtype": DTYPE,
        }
        for field, want in expected.items():
            if meta.get(field) != want:
                return f"{field} is {meta.get(field)!r}, wanted {want!r}", False
        try:
            keys_doc = json.loads((self.path / KEYS_FILE).read_text(encoding="utf-8"))
            id_of_key = keys_doc["ids"]
            if not isinstance(id_of_key, list) or not all(
                i is None or isinstance(i, str) for i in id_of_key
            ):
                return f"{KEYS_FILE} has no list of ids", False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"{KEYS_FILE} unreadable: {exc}", False
        if keys_doc.get("generation") != meta.get("generation"):
            return f"{KEYS_FILE} and {META_FILE} come from different saves", True
        for name, crc in (meta.get("checksums") or {}).items():  # older saves have none
            if name in _DATA_FILES and file_crc32(self.path / name) != crc:
                # damage, or a save renaming its files right now (read again to know which)
                return f"{name} does not match its checksum", True
        key_of_id = {i: k for k, i in enumerate(id_of_key) if i is not None}
        try:  # mapped, not read into memory: see `_own`
            self._index.view(str(self.path / VECTORS_FILE))
            self._mapped = True
        except (OSError, RuntimeError, ValueError) as exc:
            self._reset()
            return f"{VECTORS_FILE} unreadable: {exc}", False
        self._index.expansion_search = self.expansion_search
        count = meta.get("count")
        if not (self._index.ndim == self.dim and len(self._index) == len(key_of_id) == count):
            self._reset()
            return (
                f"counts disagree: meta {count}, keys {len(key_of_id)}, "
                f"vectors {len(self._index)} of dim {self._index.ndim}"
            ), True
        try:
            self._exact = open(self.path / EXACT_FILE, "rb")  # noqa: SIM115 - kept open
        except OSError as exc:
            self._reset()
            return f"{EXACT_FILE} unreadable: {exc}", False
        if os.fstat(self._exact.fileno()).st_size != len(id_of_key) * self._row_bytes:
            self._reset()
            return f"{EXACT_FILE} does not hold one row per key", True
        self._id_of_key = id_of_key
        self._key_of_id = key_of_id
        return None, False

    def _roll_forward(self) -> None:
        """Finish a committed save; safe to run twice at once (a reader and the writer)."""
        for name in _DATA_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path / f"{name}.tmp", self.path / name)
        _fsync_dir(self.path)
        (self.path / COMMIT_FILE).unlink(missing_ok=True)
        _fsync_dir(self.path)

    def save(self) -> None:
        """Write the folder atomically: a crash leaves the previous or the new version."""
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            if (self.path / COMMIT_FILE).exists():
                self._roll_forward()
            generation = uuid.uuid4().hex
            vectors_tmp = self.path / f"{VECTORS_FILE}.tmp"
            self._index.save(str(vectors_tmp))
            _fsync_file(vectors_tmp)
            self._write_exact(self.path / f"{EXACT_FILE}.tmp")
            _write_synced(
                self.path / f"{KEYS_FILE}.tmp",
                json.dumps(
                    {"generation": generation, "ids": self._id_of_key},
                    ensure_ascii=False,
                    separators=(",", ":"),
                ),
            )
            meta = {
                "schema_version": SCHEMA_VERSION,
                "model": self.model,
                "dim": self.dim,
                "count": len(self._key_of_id),
                "generation": generation,
                "metric": METRIC,
                "dtype": DTYPE,
                "connectivity": self.connectivity,
                "expansion_add": self.expansion_add,
                "checksums": {name: file_crc32(self.path / f"{name}.tmp")
                              for name in (VECTORS_FILE, KEYS_FILE, EXACT_FILE)},
            }
            _write_synced(self.path / f"{META_FILE}.tmp", json.dumps(meta, indent=2) + "\n")
            # The rename of the marker is the commit point; before it the old files stand.
            _write_synced(self.path / f"{COMMIT_FILE}.tmp", "\n".join(_DATA_FILES) + "\n")
            os.replace(self.path / f"{COMMIT_FILE}.tmp", self.path / COMMIT_FILE)
            _fsync_dir(self.path)
            self._roll_forward()
            if self._exact is not None:
                self._exact.close()
            self._exact = open(self.path / EXACT_FILE, "rb")  # noqa: SIM115 - kept open
            self._pending = {}
            self._dirty = False

    def _own(self) -> None:
        """Copy a mapped graph into memory before changing it.

        A loaded folder's graph is memory-mapped read-only: the pages a search touches come
        from the page cache, which every process serving the home shares and the kernel may
        reclaim, instead of a private copy in each (at 1M papers 760 MB of anonymous memory,
        and searches were faster mapped). Saves replace the file by renaming a new one over
        it, so a mapping never sees a file change under it. The first change copies the graph.
        """
        if self._mapped:
            owned = self._index.copy()
            owned.expansion_search = self.expansion_search
            self._index = owned
            self._mapped = False

    def _write_exact(self, path: Path) -> None:
        """This index's exact vectors to `path`: the file it loaded (or last saved), with the
        rows added since written over it, one row per key."""
        with open(path, "wb") as out:
            if self._exact is not None:
                self._exact.seek(0)
                shutil.copyfileobj(self._exact, out, 1 << 20)
            out.truncate(len(self._id_of_key) * self._row_bytes)
            for key in sorted(self._pending):
                out.seek(key * self._row_bytes)
                out.write(self._pending[key].tobytes())
            out.flush()
            os.fsync(out.fileno())

    @property
    def _row_bytes(self) -> int:
        return self.dim * np.dtype(EXACT_DTYPE).itemsize

    def _exact_rows(self, keys: Sequence[int]) -> np.ndarray:
        """The f32 vectors of `keys` (each a key in use), from the rows added since the last
        save or from exact.f16."""
        size = self._row_bytes
        fd = self._exact.fileno() if self._exact is not None else None
        if fd is not None and not self._pending:  # serving: one copy, no array per row
            read = os.pread
            return np.frombuffer(b"".join([read(fd, size, key * size) for key in keys]),
                                 dtype=EXACT_DTYPE).reshape(len(keys), self.dim) \
                .astype(np.float32)
        rows = np.empty((len(keys), self.dim), dtype=EXACT_DTYPE)
        for n, key in enumerate(keys):
            row = self._pending.get(key)
            if row is None:
                assert fd is not None, f"key {key} is neither saved nor pending"
                row = np.frombuffer(os.pread(fd, size, key * size), dtype=EXACT_DTYPE)
            rows[n] = row
        return rows.astype(np.float32)

    def _reranked(self, query: np.ndarray, keys: Sequence[int]) -> list[tuple[int, float]]:
        """(key, cosine) of `keys` by their exact vectors, best first; ties by paper id, as
        the word index orders them, so the order is the same however the graph was filled (a
        rebuild from the store adds the papers in another order than `paperboy embed` did)."""
        if not len(keys):
            return []
        similarity = self._exact_rows(keys) @ query
        ids = np.array([self._id_of_key[key] or "" for key in keys])
        order = np.lexsort((ids, -similarity))
        return [(int(keys[i]), float(similarity[i])) for i in order]

    def close(self) -> None:
        """Save pending changes and release the graph's memory."""
        with self._lock:
            if self._dirty:
                self.save()
            self._reset()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- contents ----------------------------------------------------------------------------

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if isinstance(ids, str):
            raise TypeError("add() takes a sequence of ids, not a single str")
        ids = list(ids)
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1 and len(ids) == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or matrix.shape != (len(ids), self.dim):
            raise ValueError(
                f"vectors must have shape ({len(ids)}, {self.dim}) for index of model "
                f"{self.model!r}, got {matrix.shape}"
            )
        for paper_id in ids:
            if not isinstance(paper_id, str) or not paper_id:
                raise ValueError(f"ids must be non-empty strings, got {paper_id!r}")
        norms = np.linalg.norm(matrix, axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
        if bad.size:
            raise ValueError(f"vector for {ids[int(bad[0])]!r} is zero or not finite")
        if not ids:
            return
        # The last vector given for an id wins, as if the rows were added one by one.
        last_row = {paper_id: row for row, paper_id in enumerate(ids)}
        rows = np.fromiter(last_row.values(), dtype=np.int64, count=len(last_row))
        matrix = matrix[rows] / norms[rows, None]
        with self._lock:
            self._own()
            replaced = [self._key_of_id[i] for i in last_row if i in self._key_of_id]
            if replaced:
                self._index.remove(np.asarray(replaced, dtype=np.uint64))
            keys = np.empty(len(last_row), dtype=np.uint64)
            for n, paper_id in enumerate(last_row):
                key = self._key_of_id.get(paper_id)
                if key is None:
                    key = len(self._id_of_key)
                    self._id_of_key.append(paper_id)
                    self._key_of_id[paper_id] = key
                keys[n] = key
            self._dirty = True
            self._index.add(keys, matrix, threads=self.threads)
            exact = matrix.astype(EXACT_DTYPE)
            self._pending.update(zip(keys.tolist(), exact, strict=True))

    def remove(self, ids: Iterable[str]) -> None:
        if isinstance(ids, str):
            raise TypeError("remove() takes an iterable of ids, not a single str")
        with self._lock:
            keys = []
            for paper_id in set(ids):
                key = self._key_of_id.pop(paper_id, None)
                if key is not None:
                    self._id_of_key[key] = None
                    self._pending[key] = np.zeros(self.dim, dtype=EXACT_DTYPE)
                    keys.append(key)
            if keys:
                self._dirty = True
                self._own()
                self._index.remove(np.asarray(keys, dtype=np.uint64))

    def vector(self, id: str) -> np.ndarray | None:
        with self._lock:
            key = self._key_of_id.get(id)
            if key is None:
                return None
            return self._exact_rows([key])[0]

    def similarities(self, vector: np.ndarray, ids: Collection[str]) -> dict[str, float]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        with self._lock:
            known = [(i, self._key_of_id[i]) for i in ids if i in self._key_of_id]
            if not known:
                return {}
            matrix = self._exact_rows([key for _, key in known])
        return dict(zip([i for i, _ in known], (matrix @ query).tolist(), strict=True))

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._key_of_id)

    def __contains__(self, id: object) -> bool:
        return id in self._key_of_id

    def __len__(self) -> int:
        return len(self._key_of_id)

    def memory_bytes(self) -> int:
        """Bytes held by the usearch graph and its int8 vectors (not counting the id map, nor
        the exact vectors, which stay on disk)."""
        return int(self._index.memory_usage)

    def __repr__(self) -> str:
        return f"HnswIndex({str(self.path)!r}, model={self.model!r}, dim={self.dim}, n={len(self)})"

    # -- search ------------------------------------------------------------------------------

    def search(
        self,
        vector: np.ndarray,
        *,
        limit: int,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape != (self.dim,):
            raise ValueError(
                f"query must have {self.dim} dimensions for model {self.model!r}, "
                f"got shape {np.shape(vector)}"
            )
        norm = float(np.linalg.norm(query))
        if not math.isfinite(norm) or norm == 0:
            raise ValueError("query vector is zero or not finite")
        query = query / norm
        excluded = exclude if isinstance(exclude, set | frozenset) else frozenset(exclude)
        with self._lock:
            total = len(self._key_of_id)
            if limit <= 0 or total == 0:
                return []
            if allowed is None:
                return self._nearest(query, limit, None, excluded, len(excluded), total)
            wanted = allowed if isinstance(allowed, set | frozenset) else frozenset(allowed)
            if len(wanted) <= max(self.exact_allowed_limit, math.isqrt(2 * limit * total)):
                return self._exact_search(query, limit, wanted, excluded)
            # The graph must walk about total/len(wanted) candidates per allowed hit.
            expected = math.ceil(limit * total / len(wanted) * 1.5) + len(excluded)
            hits = self._nearest(query, limit, wanted, excluded, expected, total)
            if len(hits) < limit:
                # Fewer survivors than asked even at k = total: the graph is approximate, so
                # settle it exactly (rare: only when few allowed ids are indexed).
                return self._exact_search(query, limit, wanted, excluded)
            return hits

    def _nearest(
        self,
        query: np.ndarray,
        limit: int,
        allowed: Collection[str] | None,
        excluded: Collection[str],
        extra: int,
        total: int,
    ) -> list[tuple[str, float]]:
        count = min(total, max(limit + extra, limit))
        id_of_key = self._id_of_key
        scan = total <= self.full_scan_threshold
        while True:
            # The beam grows with the results asked (see BEAM_PER_RESULT); all of it is
            # re-ranked by the exact vectors, so the int8 graph misses no more than f16 would.
            beam = max(self.expansion_search, math.ceil(BEAM_PER_RESULT * count))
            if not scan:
                self._index.expansion_search = beam
            matches = self._index.search(query, min(total, beam), exact=scan, threads=1)
            hits = []
            for key, similarity in self._reranked(query, matches.keys.tolist()):
                paper_id = id_of_key[key]
                if paper_id is None or paper_id in excluded:
                    continue
                if allowed is not None and paper_id not in allowed:
                    continue
                hits.append((paper_id, similarity))
                if len(hits) == limit:
                    return hits
            if count >= total:
                return hits
            count = min(total, count * 4)

    def _exact_search(
        self,
        query: np.ndarray,
        limit: int,
        allowed: Collection[str],
        excluded: Collection[str],
    ) -> list[tuple[str, float]]:
        brute_force = _usearch().search

        key_of_id = self._key_of_id
        keys = [key_of_id[i] for i in allowed if i in key_of_id and i not in excluded]
        if not keys:
            return []
        candidates: list[int] = []
        # int8 scores pick a beam of candidates, as in the graph, that exact vectors rank.
        # Chunks bound the temporary copy of stored vectors for very large allowed sets.
        beam = max(self.expansion_search, math.ceil(BEAM_PER_RESULT * limit))
        for start in range(0, len(keys), 65536):
            chunk = np.asarray(keys[start : start + 65536], dtype=np.uint64)
            matrix = np.vstack(self._index.get(chunk, dtype=np.float32))  # int8, scaled back
            matches = brute_force(
                matrix, query, min(beam, len(chunk)), METRIC, exact=True, threads=1
            )
            candidates.extend(int(chunk[row]) for row in matches.keys.tolist())
        return [(self._id_of_key[key] or "", similarity)
                for key, similarity in self._reranked(query, candidates)[:limit]]


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory fds (Windows)
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _usearch() -> Any:
    """`usearch.index`, loaded after ONNX Runtime when that is installed: onnxruntime's
    extension crashes the process (SIGSEGV) when it loads after usearch's (onnxruntime 1.32,
    usearch 2.26), and the embedder may load it later in the same process."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime  # noqa: F401

    import usearch.index

    return usearch.index
