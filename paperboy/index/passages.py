"""A second look at a short query's best hybrid candidates: each judged again by its best
passage (`rerank`), whose vector `paperboy embed` stored beside the paper's
(`embed/passages.py`). On unless `rerank_candidates` is 0; a lookup of that many papers' rows
and a product, no model run.

A paper matches a short query (a name, a term) in one place, where the paper mentions it, and
its vector, the mean of its whole abstract, hides that place among the rest; a document is
better judged by its best passage (Callan, "Passage-Level Evidence in Document Retrieval",
SIGIR 1994; Dai and Callan, "Deeper Text Understanding for IR with Contextual Neural Language
Modeling", SIGIR 2019, scoring a document by its best passage). So each candidate's cosine
becomes the greater of its paper's and its best passage's, and the candidates are fused again.
A long query describes a whole paper, so its papers keep their own vectors: over
../shared/eval's listing, a second look for every query lowered descriptive queries from 0.871
to 0.854 nDCG@10. For queries of up to `RERANK_UP_TO` content words, with 20 candidates, it
raised dev from 0.966 to 0.977 and keyword queries from 0.842 to 0.857, and with 33k papers
beside them dev from 0.755 to 0.780 and dev2 from 0.517 to 0.526, no row lower (README,
"Search quality").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from paperboy.index.fuse import MEANING_HALF_UP_TO, hybrid_ranking
from paperboy.index.lexical_query import content_words

RERANK_UP_TO = MEANING_HALF_UP_TO  # the short queries, as fuse.meaning_weight counts them


def rerank(ranked: list[tuple[str, float]], lexical: Mapping[str, float],
           cosines: Mapping[str, float], *, query: str, vector: np.ndarray, candidates: int,
           passages: Callable[[Sequence[str]], Mapping[str, np.ndarray]],
           ) -> list[tuple[str, float]]:
    """`ranked` (`fuse.hybrid_ranking` of `lexical` and `cosines`) with the first `candidates`
    papers' cosines raised to their best passages' (see the module docstring); `ranked` itself
    for a longer query, with `candidates` 0 or when none of them has passage vectors.
    `passages` reads papers' passage vectors by id (a matrix each, maybe of no rows)."""
    words = content_words(query)
    if candidates <= 0 or not words or len(words) > RERANK_UP_TO or not ranked:
        return ranked
    found = passages([paper_id for paper_id, _ in ranked[:candidates]])
    best = {paper_id: float((matrix @ vector).max())
            for paper_id, matrix in found.items() if len(matrix)}
    if not best:
        return ranked
    raised = dict(cosines)
    for paper_id, similarity in best.items():
        raised[paper_id] = max(raised.get(paper_id, similarity), similarity)
    return hybrid_ranking(lexical, raised, content_words=len(words))
