"""Marking matches in snippets (paperboy/index/marks.py), checked against tantivy's own snippets.

`find` looks only at the words that begin like a wanted stem; tantivy's snippet generator
stems every word of the text. Over the listing's titles and abstracts, and text made of words
the English stemmer treats specially, both must mark the same words.
"""

from __future__ import annotations

import re

import pytest
import tantivy
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st
from tantivy import Occur, Query

from paperboy.index.lexical_query import word_stem, word_stems
from paperboy.index.marks import find, marked, passage
from paperboy.index.spelling import american_text
from paperboy.models import PaperRecord
from paperboy.sources.listing import parse

# words the stemmer treats specially; the last text changes length when lower-cased
TRICKY = ("Lying and tying, dying skies: studies hoping to study the hoped-for generalization "
          "of naïve Über-models.",
          "3D re-ranking, x_y and ALL-CAPS words, conditionally relational agreed agreeing.",
          "İstanbul's lying models.")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    records = [r for r in parse((SHARED / "corpus" / "listing_kernel_search.txt").read_bytes())
               if isinstance(r, PaperRecord)]
    return [t for r in records for t in (r.title, r.abstract)] + list(TRICKY)


@pytest.fixture(scope="module")
def index(texts: list[str]) -> tuple[tantivy.Searcher, tantivy.Schema]:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", tokenizer_name="en_stem")
    schema = builder.build()
    idx = tantivy.Index(schema)
    writer = idx.writer()
    for text in texts:
        writer.add_document(tantivy.Document(text=text))
    writer.commit()
    idx.reload()
    return idx.searcher(), schema


def _tantivy_marks(searcher: tantivy.Searcher, schema: tantivy.Schema, stems: set[str],
                   text: str) -> list[tuple[int, int]]:
    """tantivy's marks of `stems` in `text`, as character ranges."""
    query = Query.boolean_query([(Occur.Should, Query.term_query(schema, "text", s))
                                 for s in stems])
    generator = tantivy.SnippetGenerator.create(searcher, query, schema, "text")
    generator.set_max_num_chars(1 << 20)
    snippet = generator.snippet_from_doc(tantivy.Document(text=text))
    raw, base = text.encode(), snippet.fragment_range().start
    return [(len(raw[:base + m.start].decode()), len(raw[:base + m.end].decode()))
            for m in snippet.highlighted()]


@pytest.mark.parametrize("words", [
    "kernel methods", "attention", "Gaussian processes regression", "study hoping lie",
    "tie dye skies", "über naive", "istanbul 3d", "x y all caps", "generalize relations",
    "agree condition", "a an of the", "neural networks training",
])
def test_find_marks_the_words_tantivys_snippets_mark(
        words: str, texts: list[str], index: tuple[tantivy.Searcher, tantivy.Schema]) -> None:
    stems = set(word_stems(words))
    for text in texts:
        if american_text(text) != text:  # British spellings: see the test below
            continue
        spans, found = find(text, stems, word_stem)
        assert spans == _tantivy_marks(*index, stems, text), text
        assert found == [word_stem(text[a:b]) for a, b in spans]


@pytest.mark.parametrize(("query", "text", "marked_words"), [
    ("kernel normalizing flows", "Kernelised Normalising Flows", ["Kernelised", "Normalising",
                                                                  "Flows"]),
    ("neighborhood attention", "Fused neighbourhood attention on neighbours",
     ["neighbourhood", "attention"]),
    ("centred kernels", "Centered kernel alignment: the centres of the Gram matrix",
     ["Centered", "kernel", "centres"]),
    ("colour quantisation", "Color quantization of a colourful image",
     ["Color", "quantization", "colourful"]),
])
def test_a_word_is_marked_in_either_spelling(query: str, text: str,
                                             marked_words: list[str]) -> None:
    """The index reads words in American spelling (index/spelling.py): a query in one spelling
    marks the paper's words in the other, where the paper writes them."""
    spans, _ = find(text, set(word_stems(query)), word_stem)
    assert [text[a:b] for a, b in spans] == marked_words


def test_every_word_of_the_listing_is_found_by_its_own_stem(texts: list[str]) -> None:
    for text in texts:
        words = [m.span() for m in re.finditer(r"[^\W_]+", text)]
        stems = {s for a, b in words if (s := word_stem(text[a:b])) is not None}
        spans, _ = find(text, stems, word_stem)
        assert spans == [(a, b) for a, b in words if word_stem(text[a:b]) is not None]


def test_a_passage_holds_the_heaviest_run_of_matches_and_starts_at_a_boundary() -> None:
    text = ("Kernel methods are old. " + "Filler words keep going here. " * 12
            + "Sparse attention makes long context cheap. Sparse attention again. "
            + "More filler follows to the end. " * 6)
    stems = set(word_stems("sparse attention kernel"))
    spans, found = find(text, stems, word_stem)
    start, end = passage(text, spans, [1.0] * len(spans), 120)
    assert end - start <= 120
    shown = text[start:end]
    assert shown.startswith("Sparse attention makes") and shown.count("attention") == 2
    assert "Kernel" not in shown
    html = marked(text, spans, start, end)
    assert html.startswith("…<mark>Sparse</mark> <mark>attention</mark> makes")
    assert html.endswith("…") and html.count("<mark>") == 4


def test_a_rare_word_outweighs_a_common_one() -> None:
    text = ("We train a model. " * 3 + "Filler words keep going here. " * 10
            + "A hypernetwork appears once.")
    spans, found = find(text, set(word_stems("model hypernetwork")), word_stem)
    weights = [0.01 if stem == "model" else 0.5 for stem in found]
    start, end = passage(text, spans, weights, 80)
    assert "hypernetwork" in text[start:end]


def test_short_text_is_shown_whole_and_escaped() -> None:
    text = "Sanitising <b>bold</b> & kernels"
    spans, _ = find(text, set(word_stems("kernel bold")), word_stem)
    assert passage(text, spans, [1.0] * len(spans), 200) == (0, len(text))
    assert marked(text, spans) == ("Sanitising &lt;b&gt;<mark>bold</mark>&lt;/b&gt; &amp; "
                                   "<mark>kernels</mark>")
    assert marked(text, []) == ""


WORDS = ["Kernel", "kernels", "lying", "Über", "İstanbul", "naïve", "x_y", "3D", "<b>", "&",
         "re-ranking", "studies", ". ", ".\n", " ", "  ", "\n", "—", "attention", "Attention"]


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=600),
                      st.lists(st.sampled_from(WORDS), min_size=10, max_size=150).map(" ".join)),
       query=st.one_of(st.text(max_size=40),
                       st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)),
       length=st.integers(min_value=40, max_value=300))  # a word matches only up to 40 bytes
def test_any_text_and_query_give_marks_inside_the_text_and_safe_html(
        text: str, query: str, length: int) -> None:
    stems = set(word_stems(query))
    spans, found = find(text, stems, word_stem)
    assert len(spans) == len(found) and all(s in stems for s in found)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False))
    start, end = passage(text, spans, [1.0] * len(spans), length)
    assert 0 <= start <= end <= len(text)
    assert len(text) <= length or end - start <= length
    html = marked(text, spans, start, end)
    assert (html != "") == bool(spans)  # the passage holds a match whenever there is one
    assert html.count("<mark>") == html.count("</mark>")
    assert "<" not in html.replace("<mark>", "").replace("</mark>", "")
