"""The passages of a paper that get vectors of their own, beside the paper's.

A paper's vector is the mean of its whole "title. abstract" (and the model reads only its first
256 tokens, which 61% of the listing's papers pass), so the one sentence where a paper names
what a short query asks for is lost among the rest; a document is better judged by its best
passage (Callan, "Passage-Level Evidence in Document Retrieval", SIGIR 1994; Dai and Callan,
"Deeper Text Understanding for IR with Contextual Neural Language Modeling", SIGIR 2019).
`passage_texts` cuts the abstract into windows of whole sentences up to `PASSAGE_CHARS`, each
after the title: `paperboy embed` stores their vectors, and `index/passages.py` raises a
candidate's cosine to its best window's at query time, a lookup instead of a model run.

Sentences are cut by a rule (end punctuation, space, then a capital, a digit, a bracket or math)
rather than a trained splitter such as Punkt: a window only needs to break between sentences
most of the time, and a missed or extra break moves where one window ends, nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from paperboy.embed import paper_text

PASSAGE_CHARS = 300  # two or three sentences; the model reads such a window whole

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[$\\])")


def windows(abstract: str, width: int = PASSAGE_CHARS) -> list[str]:
    """`abstract`'s sentences packed in order into windows of at most `width` characters (a
    longer sentence is a window alone); none for an empty abstract."""
    text = " ".join(abstract.split())
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        if current and len(current) + 1 + len(sentence) > width:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        out.append(current)
    return out


def passage_texts(paper: Mapping[str, Any]) -> list[str]:
    """The texts embedded for a paper's passages: its title before each window of its abstract
    (`paper_text` of the two); none when it has no abstract."""
    abstract = paper.get("abstract") or ""
    return [paper_text({"title": paper.get("title"), "abstract": window})
            for window in windows(str(abstract))]
