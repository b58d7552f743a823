"""A second look at a short query's best hybrid candidates: the passage of each that holds the
query's words, embedded with the same model (`rerank`). Off unless `rerank_candidates` is set:
it embeds that many passages per search, which a GPU does in milliseconds and 2 CPU cores in
0.13 to 0.24 s for 20 (README, "Search quality").

A paper matches a short query (a name, a term) in one place, where the paper mentions it, and
its vector, the mean of its whole abstract, hides that place among the rest; a document is
better judged by its best passage (Callan, "Passage-Level Evidence in Document Retrieval",
SIGIR 1994; Dai and Callan, "Deeper Text Understanding for IR with Contextual Neural Language
Modeling", SIGIR 2019, scoring a document by its best passage). So each candidate's cosine
becomes the greater of its paper's and that of its title with the window of its abstract that a
snippet would show (`marks.passage`), and the candidates are fused again. A long query describes
a whole paper, so its papers keep their own vectors: over ../shared/eval's listing, doing it for
every query lowered descriptive queries from 0.871 to 0.854 nDCG@10, and for queries of up to
`RERANK_UP_TO` content words it raised dev from 0.966 to 0.975 and keyword queries from 0.842 to
0.855, and with 33k papers beside them dev2 from 0.517 to 0.535, no row lower.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from paperboy.index.fuse import MEANING_HALF_UP_TO, hybrid_ranking
from paperboy.index.lexical_query import content_words, word_stem, word_stems
from paperboy.index.marks import find, passage

PASSAGE_CHARS = 300  # a snippet's window and a half: two or three sentences
RERANK_UP_TO = MEANING_HALF_UP_TO  # the short queries, as fuse.meaning_weight counts them


def focused_text(title: str, abstract: str, stems: set[str]) -> str:
    """A paper's title and the `PASSAGE_CHARS` of its abstract holding most of `stems` (its
    first ones when it holds none)."""
    spans, _ = find(abstract, stems, word_stem)
    start, end = passage(abstract, spans, [1.0] * len(spans), PASSAGE_CHARS)
    return f"{title}. {abstract[start:end]}"


def rerank(ranked: list[tuple[str, float]], lexical: Mapping[str, float],
           cosines: Mapping[str, float], *, query: str, vector: np.ndarray, candidates: int,
           texts: Callable[[Sequence[str]], Mapping[str, tuple[str, str]]],
           embed: Callable[[Sequence[str]], np.ndarray]) -> list[tuple[str, float]]:
    """`ranked` (`fuse.hybrid_ranking` of `lexical` and `cosines`) with the first `candidates`
    papers' cosines raised to their passages' (see the module docstring); `ranked` itself for a
    longer query or with `candidates` 0. `texts` reads papers' titles and abstracts by id."""
    words = content_words(query)
    if candidates <= 0 or not words or len(words) > RERANK_UP_TO or not ranked:
        return ranked
    papers = texts([paper_id for paper_id, _ in ranked[:candidates]])
    ids = [paper_id for paper_id, _ in ranked[:candidates] if paper_id in papers]
    if not ids:
        return ranked
    stems = set(word_stems(" ".join(words)))
    similarities = embed([focused_text(papers[i][0] or "", papers[i][1] or "", stems)
                          for i in ids]) @ vector
    raised = dict(cosines)
    for paper_id, similarity in zip(ids, similarities.tolist(), strict=True):
        raised[paper_id] = max(raised.get(paper_id, similarity), similarity)
    return hybrid_ranking(lexical, raised, content_words=len(words))
