"""Per-reader recommendations: a linear model over paper vectors, trained for each reader.

In the spirit of arxiv-sanity-lite and Scholar Inbox: the papers a reader saved or upvoted are
the positives; a deterministic sample of the other candidates, plus the papers the reader
dismissed (weighted higher), are the negatives; a linear classifier on the unit-length vectors
separates them, and one matrix-vector product scores every candidate. A reader with an empty
library starts from the topics they follow instead (`cold_start`). Every recommendation names the
library paper, or the topic, it is closest to, so a digest can say "because you saved X".

Pure numpy and scikit-learn over vectors the caller passes in: loading vectors and ids, and
deciding when to recompute (see `library_fingerprint`), is the caller's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.svm import LinearSVC

from paperboy.embed import normalize_rows

__all__ = ["Recommendation", "cold_start", "library_fingerprint", "recommend"]

# Inverse regularisation strength of the linear SVM, as in arxiv-sanity-lite. On
# bench/recommend.py (mean recall@20 of held-out library papers) C=0.1 was the best of 0.01, 0.1,
# 1 and 10 with 500 sampled negatives and tied with C=1 at 2,000; logistic regression at its best
# C scored no higher (0.844 against 0.847).
C = 0.1
# A dismissal is an explicit "not this", worth more than an unlabelled random paper.
DISMISSED_WEIGHT = 3.0


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended paper; `closest_id` is the library paper (or followed topic) it is most
    similar to by cosine similarity, `closest_similarity` that similarity."""

    paper_id: str
    score: float
    closest_id: str | None
    closest_similarity: float | None


def recommend(
    *,
    library: Mapping[str, np.ndarray],
    dismissed: Mapping[str, np.ndarray],
    candidates: Sequence[str],
    matrix: np.ndarray,
    k: int = 20,
    negatives: int = 2000,
    seed: int = 0,
    exclude: Collection[str] = (),
    others: Mapping[str, np.ndarray] | None = None,
) -> list[Recommendation]:
    """The `k` candidates a classifier trained on the reader's library scores highest.

    `library` (saved and upvoted papers, or one collection of them) and `dismissed` map paper
    id to vector; `matrix` holds one L2-normalised row per id of `candidates`, in the same
    order. Negatives are `negatives` candidates drawn with `seed` from those neither in the
    library nor dismissed, the dismissed papers at `DISMISSED_WEIGHT`, and `others` (the
    papers of the reader's other collections, as arxiv-sanity-lite trains one model per tag
    against every other paper) not in `library`. Library, dismissed, `others` and `exclude`
    ids are never returned. Returns [] for an empty library; the same inputs and seed give the
    same list.
    """
    _check_k(k)
    if negatives < 0:
        raise ValueError(f"negatives must be >= 0, got {negatives}")
    matrix = _check_matrix(matrix, candidates)
    if not library or k == 0 or not len(candidates):
        return []
    dim = matrix.shape[1]
    library_ids, library_vectors = _stack(library, dim, "library")
    dismissed_ids, dismissed_vectors = _stack(dismissed, dim, "dismissed")
    other_ids, other_vectors = _stack({pid: vector for pid, vector in (others or {}).items()
                                       if pid not in library and pid not in dismissed},
                                      dim, "others")
    known = set(library_ids) | set(dismissed_ids) | set(other_ids)
    sampled = _sample(candidates, known, negatives, seed)
    negative_vectors = np.vstack([dismissed_vectors, other_vectors,
                                  normalize_rows(matrix[sampled])])
    if len(negative_vectors):
        weights, bias = _fit(library_vectors, negative_vectors, len(dismissed_ids), seed)
    else:
        # Nothing to contrast with (every candidate is in the library): closeness to the
        # library's centroid is the best ranking left.
        weights, bias = normalize_rows(library_vectors.mean(axis=0))[0], 0.0
    scores = matrix @ weights.astype(matrix.dtype, copy=False)
    scores += bias
    top = _top(scores, candidates, k, known | set(exclude))
    return _explain(top, scores, candidates, matrix, library_ids, library_vectors)


def cold_start(
    *,
    topics: Mapping[str, np.ndarray],
    candidates: Sequence[str],
    matrix: np.ndarray,
    k: int = 20,
    exclude: Collection[str] = (),
) -> list[Recommendation]:
    """The `k` candidates most similar to any followed topic, for a reader with no library.

    `topics` maps a topic label to its query's embedding. A candidate's score is its highest
    cosine similarity to a topic, and `closest_id` is that topic's label.
    """
    _check_k(k)
    matrix = _check_matrix(matrix, candidates)
    if not topics or k == 0 or not len(candidates):
        return []
    labels, vectors = _stack(topics, matrix.shape[1], "topics")
    similarity = matrix @ vectors.T.astype(matrix.dtype, copy=False)
    best = similarity.argmax(axis=1)
    scores = similarity[np.arange(len(best)), best]
    return [
        Recommendation(candidates[i], float(scores[i]), labels[best[i]], float(scores[i]))
        for i in _top(scores, candidates, k, set(exclude))
    ]


def library_fingerprint(library_ids: Iterable[str], *, dismissed_ids: Iterable[str] = ()) -> str:
    """A stable hash of a reader's library (and dismissals): store it beside the reader's
    recommendations and recompute them when it changes. Order and duplicates do not matter."""
    payload = json.dumps([sorted(set(library_ids)), sorted(set(dismissed_ids))])
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def _check_k(k: int) -> None:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")


def _check_matrix(matrix: np.ndarray, candidates: Sequence[str]) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(candidates):
        raise ValueError(
            f"matrix must have one row per candidate: got shape {matrix.shape} for "
            f"{len(candidates)} candidates"
        )
    return matrix


def _stack(vectors: Mapping[str, np.ndarray], dim: int, what: str) -> tuple[list[str], np.ndarray]:
    """Ids in sorted order (so the result does not depend on the mapping's order) and their
    unit-length vectors as one float32 array."""
    ids = sorted(vectors)
    if not ids:
        return [], np.zeros((0, dim), dtype=np.float32)
    for paper_id in ids:
        shape = np.shape(vectors[paper_id])
        if shape != (dim,):
            raise ValueError(
                f"{what} vector of {paper_id!r} has shape {shape}; the candidate matrix has "
                f"{dim} columns (vectors from another embedding model?)"
            )
    return ids, normalize_rows(np.stack([vectors[paper_id] for paper_id in ids]))


def _sample(candidates: Sequence[str], known: set[str], count: int, seed: int) -> np.ndarray:
    """Row numbers of up to `count` candidates not in `known`, drawn deterministically."""
    n = len(candidates)
    draw = min(n, count + len(known))  # at most len(known) of the draw can be discarded
    if draw == 0:
        return np.zeros(0, dtype=np.intp)
    rows = np.random.default_rng(seed).choice(n, size=draw, replace=False)
    kept = [row for row in rows.tolist() if candidates[row] not in known][:count]
    return np.sort(np.asarray(kept, dtype=np.intp))


def _fit(
    positives: np.ndarray, negatives: np.ndarray, dismissed: int, seed: int
) -> tuple[np.ndarray, float]:
    """Weights and bias of a linear SVM, as arxiv-sanity-lite trains one per reader; the first
    `dismissed` negatives count more.

    class_weight="balanced" gives the few positives as much total weight as the many
    negatives, so the decision boundary does not collapse onto "everything is a negative".
    """
    x = np.vstack([positives, negatives])
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    sample_weight = np.ones(len(x))
    sample_weight[len(positives) : len(positives) + dismissed] = DISMISSED_WEIGHT
    model = LinearSVC(C=C, class_weight="balanced", max_iter=10_000, tol=1e-6, random_state=seed)
    model.fit(x, y, sample_weight=sample_weight)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def _top(scores: np.ndarray, candidates: Sequence[str], k: int, skip: set[str]) -> list[int]:
    """Rows of the `k` best-scoring candidates whose ids are not in `skip`, best first; equal
    scores keep candidate order. Only the best k + len(skip) rows are ever sorted."""
    n = len(scores)
    depth = min(n, k + len(skip))
    rows = np.argpartition(-scores, depth - 1)[:depth] if depth < n else np.arange(n)
    rows = rows[np.lexsort((rows, -scores[rows]))]
    picked: list[int] = []
    seen: set[str] = set()
    for row in rows.tolist():
        paper_id = candidates[row]
        if paper_id in skip or paper_id in seen:
            continue
        seen.add(paper_id)
        picked.append(row)
        if len(picked) == k:
            break
    return picked


def _explain(
    rows: list[int],
    scores: np.ndarray,
    candidates: Sequence[str],
    matrix: np.ndarray,
    library_ids: list[str],
    library_vectors: np.ndarray,
) -> list[Recommendation]:
    """Attach to each picked row the library paper it is closest to."""
    if not rows:
        return []
    similarity = normalize_rows(matrix[rows]) @ library_vectors.T
    closest = similarity.argmax(axis=1)
    return [
        Recommendation(
            candidates[row],
            float(scores[row]),
            library_ids[closest[i]],
            float(similarity[i, closest[i]]),
        )
        for i, row in enumerate(rows)
    ]
