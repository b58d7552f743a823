"""One spelling for the words English writes two ways, so that "quantisation" finds papers that
write "quantization" and the other way round. Pure.

Both search backends index, and read queries, through `american_text`: a British spelling
becomes the American one before the stemmer sees it, so the two spellings share a stem (and
Snowball's English stemmer, written for "-ize", then also joins "normalization" to "normal", as
it always did for the American spelling). What a paper shows is never rewritten.

Two sources, in this order:
- breame's list of 1,730 British spellings with their American ones (colour, behaviour,
  neighbourhood, centre, modelled, artefact, analyse, ...), curated from dictionaries
  (https://github.com/cdpierse/breame, Apache-2.0);
- for the "-ise" words a general dictionary does not hold (quantisation, tokeniser,
  parametrised, discretising), the "-ize" spelling, as Oxford spelling writes them (Hart's
  Rules, "-ize and -ise"), but for the words that end in "-ise" however they are spelt
  (the list Hart's Rules gives, with the nouns and adjectives that merely end so,
  `_ISE_ENDINGS`): turning "supervised" into "supervized" would split it from
  "supervision".

On ../shared/eval (bench/quality.py, nDCG@10) it raised words-only search on dev2's variant
queries from 0.817 to 0.881 over the listing and from 0.287 to 0.432 with 33k papers beside it,
and on dev with 33k papers from 0.694 to 0.729, with no row lower.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

# a word as tantivy's simple tokenizer cuts text (see marks.py): a run of letters and digits
_WORD = re.compile(r"[^\W_]+")
# The verbs spelt "-ise" in American English too (Hart's Rules, "-ize and -ise"), and the nouns
# and adjectives that end in "-ise" without being that suffix; a word ending in one of them is
# one of them too ("unsupervised", "imprecise", "denoise", "appraise"), as is any "-wise" word.
_ISE_ENDINGS = tuple("""
    advertise advise apprise chastise circumcise comprise compromise demise despise devise
    disguise enterprise excise exercise expertise franchise improvise incise merchandise
    premise promise reprise revise supervise surmise surprise televise braise bruise chaise
    concise cruise liaise noise paradise poise praise precise raise treatise wise
""".split())
# these only as whole words: many "-ize" verbs end in them ("summarise", "organise", "amortise")
_ISE_WORDS = frozenset("arise rise prise uprise sunrise anise guise mortise cerise chemise "
                       "valise porpoise tortoise".split())
# an "-ise" word's suffixes, longest first: the word less one of them, plus "ise", is its verb
_ISE = re.compile(r"(?P<stem>[a-z]{3,})is(?P<tail>ations?|ability|able|ers?|es|ed|ing|e)")


@functools.lru_cache(maxsize=65_536)
def american(word: str) -> str:
    """The American spelling of a lower-case word, or the word itself."""
    listed = BRITISH_ENGLISH_SPELLINGS.get(word)
    if listed is not None:
        return listed
    m = _ISE.fullmatch(word)
    if m is None:
        return word
    verb = f"{m['stem']}ise"
    if verb in _ISE_WORDS or verb.endswith(_ISE_ENDINGS):
        return word
    return f"{m['stem']}iz{m['tail']}"


def american_text(text: str) -> str:
    """`text` with each word spelt the British way in its American spelling (lower-cased: the
    index lower-cases every word anyway); the text itself when none is."""
    lower = text.lower()
    changed = {word: spelt for word in set(_WORD.findall(lower))
               if "is" in word or word in BRITISH_ENGLISH_SPELLINGS
               if (spelt := american(word)) != word}
    if not changed:
        return text
    if len(lower) != len(text):  # lower-casing moved the offsets: rebuild from the words
        return " ".join(changed.get(w, w) for w in _WORD.findall(lower))
    out, last = [], 0
    for m in _WORD.finditer(lower):
        if m.group() in changed:
            out += [text[last:m.start()], changed[m.group()]]
            last = m.end()
    out.append(text[last:])
    return "".join(out)


def as_written(term: str, words: Iterable[str]) -> str:
    """A query word as a paper whose matched `words` (lower-case) spell it the other way writes
    it ("quantization" for "quantisation"): a hit lists the words it holds, not the query's."""
    if term in words:
        return term
    spelt = american(term)
    return next((w for w in words if w != term and american(w) == spelt), term)


@functools.lru_cache(maxsize=1)
def _british_of() -> list[tuple[str, str]]:
    """(American, British) of the listed words whose spellings part before their last letters
    ("neighborhood", "neighbourhood"), which a word's leading letters do not find."""
    return [(us, uk) for uk, us in BRITISH_ENGLISH_SPELLINGS.items()
            if not uk.startswith(us[:-2])]


@functools.lru_cache(maxsize=4096)
def british_beginnings(prefix: str) -> frozenset[str]:
    """How the British spellings of the words beginning with `prefix` in American spelling
    begin, where that is not with `prefix` ("neighbo" for "neighborh")."""
    found = set()
    for us, uk in _british_of():
        if us.startswith(prefix) and not uk.startswith(prefix):
            common = 0
            while common < min(len(us), len(uk)) and us[common] == uk[common]:
                common += 1
            found.add(uk[:common])
    return frozenset(found)
