"""Showing where a text matches a search: the passage of an abstract to show, and the text as
HTML with the matched words in <mark>. Pure; both search backends cut their snippets here.

A passage is the window of at most `length` characters holding the matches of most weight,
as tantivy's snippets choose theirs (a word weighs 1 / (1 + its document frequency), so a
rare word outweighs a common one); unlike tantivy's fixed windows it may start anywhere, so
it begins a little before its first match, at a sentence or word boundary, instead of
cutting a run of matches in two.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Collection, Sequence

from paperboy.index.spelling import british_beginnings

Span = tuple[int, int]  # a matched word's [start, end) in characters

# a word as tantivy's simple tokenizer cuts text: a run of letters and digits
_WORD = re.compile(r"[^\W_]+")
# The words Snowball's English stemmer stems by a table rather than by rule whose stem, less
# its last letter, does not begin them ("lying" is "lie"); every other word of 8,000 arXiv
# abstracts begins with its stem less its last letter ("study" is "studi", "hoping" "hope").
_TABLE_STEMS = {"die": "dy", "lie": "ly", "tie": "ty"}


def find(text: str, stems: Collection[str],
         stem: Callable[[str], str | None]) -> tuple[list[Span], list[str]]:
    """The words of `text` whose stem (`stem` of the word; None for none) is one of `stems`,
    in order, and each one's stem: what tantivy's snippets mark, found without stemming every
    word. Only the words that begin with a stem less its last letter are stemmed."""
    lower = text.lower()
    if len(lower) != len(text):  # lower-casing moved the offsets: look at every word
        words = [m.span() for m in _WORD.finditer(text)]
    else:
        starts: set[int] = set()
        for prefix in _prefixes(frozenset(stems)):
            at = lower.find(prefix)
            while at >= 0:
                if at == 0 or not lower[at - 1].isalnum():  # isalnum() is [^\W_]
                    starts.add(at)
                at = lower.find(prefix, at + 1)
        words = []
        for at in sorted(starts):
            word = _WORD.match(lower, at)
            if word is not None:
                words.append((at, word.end()))
    spans, found = [], []
    for a, b in words:
        matched = stem(text[a:b])
        if matched is not None and matched in stems:
            spans.append((a, b))
            found.append(matched)
    return spans, found


@functools.lru_cache(maxsize=256)
def _prefixes(stems: frozenset[str]) -> frozenset[str]:
    """How the words of these stems begin: the stem less its last letter, or as the table
    says, and how their British spellings begin where that is otherwise ("neighbo" for
    "neighbourhood", whose stem is "neighborhood": the index reads words in American spelling)."""
    starts = {s if len(s) <= 2 else s[:-1] for s in stems}
    return frozenset(starts | {_TABLE_STEMS[s] for s in stems if s in _TABLE_STEMS}
                     | {b for s in starts for b in british_beginnings(s)})


def passage(text: str, spans: Sequence[Span], weights: Sequence[float],
            length: int) -> tuple[int, int]:
    """The [start, end) of `text` to show: all of it when it is at most `length` long, else
    the window of that length whose matches (`spans`, in order, each with its weight) weigh
    most, the earliest of equal ones, cut at spaces (its first `length` without matches)."""
    if len(text) <= length or not spans:
        return 0, min(len(text), length)
    best, first, last = -1.0, 0, 0
    total, j = 0.0, 0
    for i, (start, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] - start <= length:
            total += weights[j]
            j += 1
        if j > i and total > best:
            best, first, last = total, i, j - 1
        total -= weights[i] if j > i else 0.0
        j = max(j, i + 1)
    begin, finish = spans[first][0], spans[last][1]
    # a quarter of what is left before the first match, from the start of its sentence or word
    lead = max(0, begin - (length - (finish - begin)) // 4)
    if lead > 0:
        sentence = max(text.rfind(". ", lead, begin), text.rfind(".\n", lead, begin))
        space = text.find(" ", lead, begin)
        lead = sentence + 2 if sentence >= 0 else space + 1 if space >= 0 else begin
    end = min(len(text), lead + length)
    if end < len(text):
        space = text.rfind(" ", finish, end + 1)
        end = space if space >= 0 else finish
    return lead, end


def marked(text: str, spans: Sequence[Span], start: int = 0, end: int | None = None) -> str:
    """`text[start:end]` HTML-escaped, the `spans` inside it in <mark>, with "…" where text
    is left out; "" when no span is inside it."""
    end = len(text) if end is None else end
    parts, position = ["…" if start > 0 else ""], start
    for a, b in spans:
        if a >= start and b <= end:
            parts += [html.escape(text[position:a]), f"<mark>{html.escape(text[a:b])}</mark>"]
            position = b
    if position == start:
        return ""
    parts += [html.escape(text[position:end]), "…" if end < len(text) else ""]
    return "".join(parts)
