"""Vectors computed ahead of time for known texts, in front of the real model.

`paperboy demo` ships the all-MiniLM-L6-v2 vectors of its own papers (`data/demo_vectors.npz`,
written by `scripts/demo-vectors`), so it serves within seconds instead of embedding 400 papers
on a laptop's CPU first. A text is known by the SHA-1 of exactly what would be embedded
(`paper_text`); anything else, a query included, goes to the model, loaded on first need.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from paperboy.embed import Embedder


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class Precomputed:
    """An `Embedder` named `name` that answers known texts from `table` (key -> vector)."""

    def __init__(self, name: str, table: dict[str, np.ndarray],
                 load: Callable[[], Embedder]) -> None:
        if not table:
            raise ValueError("a table of precomputed vectors needs at least one vector")
        self.name = name
        self.dim = len(next(iter(table.values())))
        self._table = table
        self._load = load
        self._model: Embedder | None = None
        self.computed = 0  # texts the model had to embed

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = [i for i, key in enumerate(keys) if key not in self._table]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in self._table:
                out[i] = self._table[key]
        if missing:
            if self._model is None:
                self._model = self._load()
            out[missing] = self._model.embed([texts[i] for i in missing])
            self.computed += len(missing)
        return out


def load_table(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The model name and the vectors by text key of a file `save_table` wrote."""
    with np.load(path) as data:
        vectors = data["vectors"].astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return str(data["model"]), dict(zip(data["keys"].tolist(), vectors, strict=True))


def save_table(path: Path, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    np.savez_compressed(path, model=np.array(model), keys=np.array([text_key(t) for t in texts]),
                        vectors=np.asarray(vectors, dtype=np.float16))
