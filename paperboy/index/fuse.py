"""Fusing ranked lists from several retrievers into one ranking. Pure.

Hybrid search uses a convex combination of normalised scores (`convex_combination`): Bruch,
Gai and Ingber ("An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS 2023) find it
better than rank fusion in and out of domain, and robust to its one weight. Scores are
normalised per query to z-scores over the candidates, so BM25 (unbounded) and cosine (a narrow
band of [-1, 1]) add up as "how far above this query's usual". On ../shared/eval it beat RRF on
every query type (bench/quality.py).

The weight of meaning grows with the query's length (`meaning_weight`): query length is the
oldest pre-retrieval predictor of how a query will fare (He and Ounis, "Inferring Query
Performance Using Pre-retrieval Predictors", SPIRE 2004). A query of a few words is mostly a
name or a term (an acronym, a system, a dataset), which BM25 matches exactly and a sentence
encoder embeds poorly (Sciavolino et al., "Simple Entity-Centric Questions Challenge Dense
Retrievers", EMNLP 2021); a long one describes a need in words the papers may not use, where
meaning helps most. On ../shared/eval this raised hybrid search on dev2 at both scales and on
keyword queries most (bench/quality.py), and nearby choices of the two constants measured alike.

Reciprocal rank fusion (Cormack, Clarke and Büttcher, "Reciprocal Rank Fusion outperforms
Condorcet and individual Rank Learning Methods", SIGIR 2009): a document's fused score is
the sum over retrievers of `weight / (k + rank)`. It needs no score calibration between BM25 and
cosine similarity, and k = 60 damps the influence of any single list's top ranks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60
# meaning counts half as much as words up to MEANING_HALF_UP_TO content words, and as much as
# words from MEANING_FULL_FROM on, in proportion between
MEANING_HALF_UP_TO = 4
MEANING_FULL_FROM = 8


def meaning_weight(content_words: int) -> float:
    """The weight of the semantic scores beside the lexical ones' 1, for a query of this many
    content (non-stop) words; see the module docstring."""
    return min(1.0, max(0.5, content_words / MEANING_FULL_FROM))


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


def z_scores(scores: Mapping[str, float]) -> dict[str, float]:
    """Each score's distance from the mean in standard deviations (all 0 when they are equal)."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread == 0:
        return dict.fromkeys(scores, 0.0)
    return {doc: (value - mean) / spread for doc, value in scores.items()}


def convex_combination(scores: Mapping[str, Mapping[str, float]], *,
                       weights: Mapping[str, float]) -> list[tuple[str, float]]:
    """Ids by the weighted sum of their z-scored scores, best first; ties broken by id.

    `scores` maps a retriever's name to {id: score}; a candidate missing from a retriever's
    scores counts as 0 there (BM25 of a paper holding none of the words).
    """
    candidates = {doc for by_doc in scores.values() for doc in by_doc}
    fused = dict.fromkeys(candidates, 0.0)
    for name, by_doc in scores.items():
        if not by_doc:
            continue
        normal = z_scores({doc: by_doc.get(doc, 0.0) for doc in candidates})
        weight = weights.get(name, 1.0)
        for doc, value in normal.items():
            fused[doc] += weight * value
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def hybrid_ranking(lexical: Mapping[str, float], cosines: Mapping[str, float], *,
                   content_words: int) -> list[tuple[str, float]]:
    """Hybrid search's order: BM25 scores and cosines by `convex_combination`, meaning weighed
    by `meaning_weight` for a query of `content_words` content words.

    `cosines` holds the semantic candidates' and as many lexical candidates' cosines as are
    known; a lexical candidate with no vector yet is neither near nor far: the mean cosine.
    """
    cosines = dict(cosines)
    if cosines:
        neutral = sum(cosines.values()) / len(cosines)
        cosines.update((doc, neutral) for doc in lexical if doc not in cosines)
    return convex_combination({"lexical": lexical, "semantic": cosines},
                              weights={"lexical": 1.0,
                                       "semantic": meaning_weight(content_words)})
