"""The embedding seam: text in, L2-normalised float32 vectors out.

Every vector is recorded with the `Embedder.name` that produced it, so a change of model is a
clean rebuild of the vector index, never a silent mix. `HashingEmbedder` is the deterministic,
dependency-free embedder tests use; the real model lives in `paperboy.embed.sentence` and is
imported only when asked for, so importing this package never imports torch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Embedder",
    "EmbedderUnavailable",
    "HashingEmbedder",
    "normalize_rows",
    "paper_text",
]


class EmbedderUnavailable(Exception):
    """The embedding model cannot be loaded; the message names the model and the fix."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; `name` is stored beside every vector."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 array of shape (len(texts), dim) with L2-normalised rows."""
        ...


def query_vector(embedder: Embedder, text: str) -> np.ndarray:
    """The vector of one search's text, from the embedder's cache of recent queries where it
    keeps one (`embed_query`)."""
    own = getattr(embedder, "embed_query", None)
    return own(text) if own is not None else embedder.embed([text])[0]


_END_PUNCT = (".", "?", "!", ":", ";")


def _clean(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())  # the same as \s+ to " ", stripped; a third the time


def paper_text(paper: Mapping[str, Any]) -> str:
    """The text embedded for a paper: "Title. Abstract", whitespace collapsed."""
    title = _clean(paper.get("title"))
    abstract = _clean(paper.get("abstract"))
    if not title:
        return abstract
    if not abstract:
        return title
    sep = " " if title.endswith(_END_PUNCT) else ". "
    return f"{title}{sep}{abstract}"


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 copy of `vectors` with unit rows; an all-zero row becomes e_0, never NaN."""
    out = np.array(vectors, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(out, axis=1)
    zero = ~(norms > 0)  # also catches NaN norms
    if zero.any():
        out[zero] = 0.0
        out[zero, 0] = 1.0
        norms[zero] = 1.0
    out /= norms[:, None]
    return out


_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the their "
    "this to was we were which with".split()
)


def _stem(word: str) -> str:
    # Just enough suffix stripping that plural and simple verb forms share a bucket.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word


def _tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


class HashingEmbedder:
    """Deterministic bag-of-words embedder (feature hashing with blake2b) for tests and demos.

    The same text gives the same vector on every machine and run; texts sharing words are
    closer than texts that share none. No model, no downloads, numpy only.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ValueError(f"HashingEmbedder dim must be >= 2, got {dim}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _word_slot(self, word: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _tokens(text):
                slot, sign = self._word_slot(word)
                out[row, slot] += sign
        return normalize_rows(out) if len(texts) else out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"
