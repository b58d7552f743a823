"""One spelling for words English writes two ways (paperboy/index/spelling.py)."""

from __future__ import annotations

import pytest
from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS
from hypothesis import given
from hypothesis import strategies as st

from paperboy.index.lexical_query import word_stem, word_stems
from paperboy.index.spelling import american, american_text, as_written


@pytest.mark.parametrize(("british", "us"), [
    ("quantisation", "quantization"), ("tokenisers", "tokenizers"),
    ("parametrised", "parametrized"), ("discretising", "discretizing"),
    ("amortised", "amortized"), ("summarise", "summarize"), ("regularisation", "regularization"),
    ("colour", "color"), ("neighbourhood", "neighborhood"), ("centred", "centered"),
    ("modelled", "modeled"), ("artefacts", "artifacts"), ("analyse", "analyze"),
])
def test_a_british_spelling_reads_as_the_american_one(british: str, us: str) -> None:
    assert american(british) == us
    assert word_stem(british) == word_stem(us)


@pytest.mark.parametrize("word", [
    "supervised", "unsupervised", "revised", "advised", "devise", "promising", "exercises",
    "compromised", "denoised", "appraise", "precise", "imprecise", "noise", "raise", "arise",
    "rising", "surprisingly", "expertise", "enterprise", "pairwise", "otherwise", "analysis",
    "basis", "visible", "decisions", "precision", "consisted", "quantization", "color",
])
def test_words_spelt_one_way_everywhere_are_left_alone(word: str) -> None:
    """"-ise" that is not the "-ize" suffix stays, so "supervised" keeps its stem with
    "supervision"."""
    assert american(word) == word


def test_the_spelling_is_a_fixed_point() -> None:
    """Reading a text twice changes nothing more: the index and a query agree whichever read
    the other's output."""
    for british, us in BRITISH_ENGLISH_SPELLINGS.items():
        assert american(us) == us, british
        assert american(american(f"{british[:-1]}isation")) == american(f"{british[:-1]}isation")


def test_a_text_keeps_everything_but_the_spelling() -> None:
    text = "Quantisation-aware Training, in COLOUR (neighbourhood: 3 × 4); optimiser2 stays."
    assert american_text(text) == ("quantization-aware Training, in color (neighborhood: 3 × 4); "
                                   "optimiser2 stays.")
    assert american_text("Already American: quantization, color.") == \
        "Already American: quantization, color."


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_text_keeps_its_words_in_order(text: str) -> None:
    """The same stems in the same order as tantivy would read the American words: phrase and
    pair positions do not move."""
    assert word_stems(american_text(text)) == word_stems(text)


def test_a_hit_lists_the_word_as_the_paper_writes_it() -> None:
    assert as_written("quantisation", {"quantization", "aware"}) == "quantization"
    assert as_written("colour", {"colour", "color"}) == "colour"
    assert as_written("attention", {"attentions"}) == "attention"  # another form: as typed
