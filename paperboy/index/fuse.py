"""Fusing ranked lists from several retrievers into one ranking. Pure.

Reciprocal rank fusion (Cormack, Clarke and Büttcher, "Reciprocal Rank Fusion outperforms
Condorcet and individual Rank Learning Methods", SIGIR 2009): a document's fused score is
the sum over retrievers of `weight / (k + rank)`. It needs no score calibration between BM25 and
cosine similarity, and k = 60 damps the influence of any single list's top ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[str]], *, k: int = RRF_K,
                           weights: Mapping[str, float] | None = None,
                           ) -> list[tuple[str, float]]:
    """Ids with their fused scores, best first; ties broken by best single rank, then by id.

    `rankings` maps a retriever's name to its ids, best first (rank 1 is the first id).
    """
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, doc in enumerate(ids, start=1):
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
            best_rank[doc] = min(best_rank.get(doc, rank), rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))
