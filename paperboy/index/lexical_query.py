"""How search-box text becomes a tantivy query, and how hits are explained (matched words,
highlighted snippets). Pure functions over tantivy objects; `lexical.py` owns the index."""

from __future__ import annotations

import functools
import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import tantivy
from tantivy import Filter, Occur, Query, TextAnalyzerBuilder, Tokenizer

from paperboy.index.marks import _WORD
from paperboy.index.spelling import american_text
from paperboy.models import Filters

# more-like-this only: a title word says more about what a paper is about than an abstract word
TITLE_BOOST = 1.5
ABSTRACT_BOOST = 1.0
MAX_TERMS = 64  # distinct words kept from one query; the rest of a pasted essay is ignored
MAX_PHRASES = 8
MAX_PHRASE_WORDS = 16
MAX_WORD_BYTES = 40  # tantivy drops longer tokens when indexing, so such a word never matches
FUZZY_BELOW = 3  # fewer exact hits than this (typically a typo) adds typo-tolerant hits
SNIPPET_CHARS = 200
MORE_LIKE_THIS_TERMS = 25
MORE_LIKE_THIS_MAX_DF = 0.25  # a word in more than this share of papers is not distinctive



@dataclass(frozen=True, slots=True)
class UserQuery:
    """What a search box's text asks for: loose words (any may match), exact phrases (all must),
    and the operators people expect: `-word` or `-"a phrase"` excludes, `author:`/`au:` and
    `title:`/`ti:` require a name or words in that field, `cat:` a category and `year:2025` or
    `year:2023-2025` a span of years (these two act as filters)."""

    terms: list[str]
    phrases: list[str]
    excluded: list[str] = field(default_factory=list)  # words or phrases no hit may hold
    authors: list[str] = field(default_factory=list)  # every hit has each of these authors
    titles: list[str] = field(default_factory=list)  # words or phrases every title holds
    category: str | None = None
    years: tuple[int, int] | None = None
    free_text: str = ""  # the text without its operators: what the meaning of it is

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases and not self.required

    @property
    def required(self) -> bool:
        """Whether the query requires an author or title words (a filter on every hit)."""
        return bool(self.authors or self.titles)

    @property
    def constrained(self) -> bool:
        """Whether some hits of its free text may fail it (an author, title or exclusion)."""
        return bool(self.authors or self.titles or self.excluded)


_FIELDS = {"author": "author", "au": "author", "title": "title", "ti": "title", "cat": "cat",
           "year": "year"}
_TOKEN = re.compile(
    r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+))')
_YEARS = re.compile(r"(\d{4})(?:(?:-|\.\.)(\d{4}))?")
_CATEGORY_VALUE = re.compile(r"[A-Za-z][A-Za-z.-]{0,31}")


def parse_user_query(text: str) -> UserQuery:
    """Split search-box text into lower-cased words, balanced "quoted phrases" and operators.

    An unpaired quote is dropped. Outside the operators (see `UserQuery`), everything that is not
    a letter or digit separates words, so other syntax (`foo:`, `^2`, `~`, `*`, `[1 TO 2]`, `+`)
    is punctuation, an unknown `field:` is plain words, and AND/OR/NOT are ordinary words.
    Keeps the first `MAX_TERMS` distinct words and `MAX_PHRASES` phrases.
    """
    if text.count('"') % 2:
        last = text.rfind('"')
        text = text[:last] + " " + text[last + 1:]
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    authors: list[str] = []
    titles: list[str] = []
    category: str | None = None
    years: tuple[int, int] | None = None
    free: list[str] = []

    def phrase_of(value: str) -> str:
        return " ".join(_words(value)[:MAX_PHRASE_WORDS])

    for m in _TOKEN.finditer(text):
        name = _FIELDS.get((m.group("field") or "").lower())
        value = m.group("quoted") if m.group("quoted") is not None else m.group("bare")
        quoted = m.group("quoted") is not None
        if name == "year" and (y := _YEARS.fullmatch(value)):
            low, high = int(y.group(1)), int(y.group(2) or y.group(1))
            years = (min(low, high), max(low, high))
        elif name == "cat" and _CATEGORY_VALUE.fullmatch(value):
            category = value
        elif name == "author" and phrase_of(value):
            authors.append(value.strip())
        elif name == "title" and phrase_of(value):
            titles.append(phrase_of(value))
        elif m.group("neg") and name is None and m.group("field") is None and phrase_of(value):
            excluded.append(phrase_of(value))
        elif quoted:
            if (phrase := phrase_of(value)) and phrase not in phrases:
                phrases.append(phrase)
            free.append(value)
        else:
            words += _words(m.group(0))
            free.append(m.group(0))
    return UserQuery(terms=list(dict.fromkeys(words))[:MAX_TERMS], phrases=phrases[:MAX_PHRASES],
                     excluded=excluded[:MAX_PHRASES], authors=authors[:MAX_PHRASES],
                     titles=titles[:MAX_PHRASES], category=category, years=years,
                     free_text=" ".join(free))


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w.encode()) < MAX_WORD_BYTES]


def _analyzer(tokenizer: tantivy.Tokenizer, *filters: tantivy.Filter) -> tantivy.TextAnalyzer:
    builder = TextAnalyzerBuilder(tokenizer)
    for f in filters:
        builder = builder.filter(f)
    return builder.build()


class _Analyzes(Protocol):
    def analyze(self, text: str) -> list[str]: ...


class _American:
    """An analyzer reading each word in its American spelling (`spelling.american_text`), as
    the index is given every title and abstract (`lexical._document`)."""

    def __init__(self, inner: tantivy.TextAnalyzer) -> None:
        self._inner = inner

    def analyze(self, text: str) -> list[str]:
        return list(self._inner.analyze(american_text(text)))


# The query side's copies of the index's analyzers: `_EN` is tantivy's built-in `en_stem` over
# the American spelling of the text.
_EN = _American(_analyzer(Tokenizer.simple(), Filter.remove_long(MAX_WORD_BYTES),
                          Filter.lowercase(), Filter.stemmer("english")))
_NAME = _analyzer(Tokenizer.simple(), Filter.remove_long(MAX_WORD_BYTES), Filter.lowercase(),
                  Filter.ascii_fold())
_CATEGORY = _analyzer(Tokenizer.raw(), Filter.lowercase())
_STOP = _analyzer(Tokenizer.simple(), Filter.lowercase(), Filter.stopword("english"))
# the words `_EN` stems, one for one: the same tokenizer and filters but the stemmer
_LOWER = _analyzer(Tokenizer.simple(), Filter.remove_long(MAX_WORD_BYTES), Filter.lowercase())
# the `pairs` field's values are made here (`adjacent_pairs`), one token per pair
PAIRS = _analyzer(Tokenizer.whitespace())



# -- query assembly ----------------------------------------------------------------------------


@dataclass(slots=True)
class Marks:
    """The stems a query marks in titles and in abstracts."""

    title: frozenset[str] = frozenset()
    abstract: frozenset[str] = frozenset()

    def add(self, stems: Iterable[str], *, abstract: bool = True) -> None:
        stems = frozenset(stems)
        self.title |= stems
        if abstract:
            self.abstract |= stems


@dataclass(slots=True)
class _Compiled:
    query: Query  # exact words (any) and phrases (all): BM25 over title + abstract, and authors
    fuzzy: Query | None  # words within a small edit distance, phrases still exact
    labels: list[tuple[str, Query]]  # each word and phrase as typed, and what matches it
    # beside each label, its word's stems; None for a label every hit holds (a phrase, and
    # `author:` and `title:`, which are required)
    label_stems: list[frozenset[str] | None]
    typo_labels: list[tuple[str, Query]]  # the same, words also matching near spellings
    marks: Marks  # the stems marked in snippets: the same words and phrases


def _compile(schema: tantivy.Schema, parsed: UserQuery) -> _Compiled | None:
    """The tantivy queries for a parsed search; None when nothing in it can match.

    Words are scored by BM25 over one field holding title and abstract (`text`): per-field
    scores summed with a title boost lost to it on every query type of ../shared/eval. Pairs of
    adjacent words also score as pairs (`proximity`); quoted phrases match authors too.
    """
    words: list[tuple[Occur, Query]] = []
    labels: list[tuple[str, Query]] = []
    label_stems: list[frozenset[str] | None] = []
    typo_labels: list[tuple[str, Query]] = []
    typos: list[tuple[Occur, Query]] = []
    marks = Marks()
    seen: set[tuple[str, str]] = set()
    for term in parsed.terms:
        clauses = [(Occur.Should, Query.term_query(schema, field_name, token))
                   for field_name, token in _field_keys(term)]
        words += [c for c, key in zip(clauses, _field_keys(term), strict=True) if key not in seen]
        seen.update(_field_keys(term))
        near = _typo_clauses(schema, term)
        typos += near
        if not is_stop_word(term):  # found by BM25 (a little), never shown as a match
            labels.append((term, Query.boolean_query(clauses)))
            typo_labels.append((term, Query.boolean_query(clauses + near)))
            stems = frozenset(_EN.analyze(term))
            label_stems.append(stems)
            marks.add(stems)
    words += proximity(schema, parsed.terms)
    phrases: list[tuple[Occur, Query]] = []
    for phrase in parsed.phrases:
        per_field: list[tuple[Occur, Query]] = []
        for field_name, analyzer in (("text", _EN), ("authors", _NAME)):
            query = _phrase(schema, field_name, analyzer, phrase)
            if query is not None:
                per_field.append((Occur.Should, query))
        if not per_field:
            continue
        marks.add(_EN.analyze(phrase))
        either = Query.boolean_query(per_field)
        phrases.append((Occur.Must, either))
        labels.append((phrase, either))
        typo_labels.append((phrase, either))
    required = _operator_clauses(schema, parsed, labels, marks)
    if not words and not phrases and not any(o == Occur.Must for o, _ in required):
        return None
    fuzzy = None
    if typos:
        # a typo hit needs a near spelling of some word; the words spelt right still rank it
        fuzzy = Query.boolean_query(
            words + phrases + required + [(Occur.Must, Query.boolean_query(typos))])
    label_stems += [None] * (len(labels) - len(label_stems))
    return _Compiled(query=Query.boolean_query(words + phrases + required), fuzzy=fuzzy,
                     labels=labels, label_stems=label_stems,
                     typo_labels=typo_labels + labels[len(typo_labels):], marks=marks)


def _operator_clauses(schema: tantivy.Schema, parsed: UserQuery, labels: list[tuple[str, Query]],
                      marks: Marks) -> list[tuple[Occur, Query]]:
    """`author:` and `title:` as required clauses, `-word` as excluded ones; the required ones
    are explained (`author: Tri Dao`) and marked."""
    clauses: list[tuple[Occur, Query]] = []
    for name in parsed.authors:
        query = _phrase(schema, "authors", _NAME, name)
        if query is not None:
            clauses.append((Occur.Must, query))
            labels.append((f"author: {name}", query))
    for words in parsed.titles:
        query = _phrase(schema, "title", _EN, words)
        if query is not None:
            clauses.append((Occur.Must, query))
            labels.append((f"title: {words}", query))
            marks.add(_EN.analyze(words), abstract=False)
    for words in parsed.excluded:
        query = _phrase(schema, "text", _EN, words)
        if query is not None:
            clauses.append((Occur.MustNot, query))
    return clauses


def _phrase(schema: tantivy.Schema, field_name: str, analyzer: _Analyzes,
            phrase: str) -> Query | None:
    tokens: list[str | tuple[int, str]] = list(analyzer.analyze(phrase))
    if not tokens:
        return None
    if len(tokens) == 1:
        return Query.term_query(schema, field_name, tokens[0])
    return Query.phrase_query(schema, field_name, tokens)


# The weight of an ordered pair of adjacent query words found side by side, relative to a word:
# the sequential dependence model's lambda_O / lambda_T = 0.1 / 0.85 (Metzler and Croft, "A
# Markov Random Field Model for Term Dependencies", SIGIR 2005), the values it recommends for
# any collection. Adjacent words ("tensor cores", "long range arena") are usually a term.
PROXIMITY_WEIGHT = 0.1 / 0.85


def proximity(schema: tantivy.Schema, terms: list[str]) -> list[tuple[Occur, Query]]:
    """Optional clauses scoring each of `proximity_pairs` by BM25 over the papers' own pairs.

    Each pair of adjacent words is indexed as one token (`adjacent_pairs`), so a pair is
    scored with its own document frequency, as the sequential dependence model scores an
    ordered window, and read from a posting list instead of from both words' positions (which
    took two thirds of a words-only search's time)."""
    return [(Occur.Should, Query.boost_query(Query.term_query(schema, "pairs", _pair(a, b)),
                                             PROXIMITY_WEIGHT)) for a, b in proximity_pairs(terms)]


def adjacent_pairs(text: str) -> str:
    """The `pairs` field of a text: each two adjacent word stems as one token ("tensor_core"),
    but for two stop words side by side (see `proximity_pairs`) and a word beside itself."""
    words = [_stem_and_stop(word) for word in _LOWER.analyze(text)]
    return " ".join(_pair(a, b) for (a, a_stop), (b, b_stop) in zip(words, words[1:], strict=False)
                    if a != b and not (a_stop and b_stop))


@functools.lru_cache(maxsize=262_144)
def _stem_and_stop(word: str) -> tuple[str, bool]:
    """A lower-cased word's stem as `_EN` makes it, and whether it is a stop word (most words
    of a collection recur, so indexing a paper mostly looks them up)."""
    return (_EN.analyze(word) or [word])[0], is_stop_word(word)


def _pair(first: str, second: str) -> str:
    return f"{first}_{second}"  # stems hold letters and digits only


def proximity_pairs(terms: list[str]) -> list[tuple[str, str]]:
    """The stems of each two adjacent words of a query, but for two stop words side by side.

    "in the" or "of a" is in nearly every paper: scoring it says nothing, and its posting list
    would be the index's longest (papers do not index such pairs). A stop word beside a content word
    stays ("effect of", "of self"): it is how the words are used, and at 33k papers those pairs
    lifted words-only search on dev and on dev2's variant queries (bench/quality.py).
    """
    stems = [(stem, is_stop_word(term)) for term in terms for stem in _EN.analyze(term)]
    return list(dict.fromkeys((a, b) for (a, a_stop), (b, b_stop)
                              in zip(stems, stems[1:], strict=False)
                              if a != b and not (a_stop and b_stop)))


def content_words(text: str) -> list[str]:
    """The words of `text` as the index splits them, without the stop words."""
    return [word for word in _words(text) if not is_stop_word(word)]


@functools.lru_cache(maxsize=65_536)
def is_stop_word(word: str) -> bool:
    """An English stop word ("the", "of", "and"): scored, but neither marked nor listed."""
    return not _STOP.analyze(word)


def _typo_clauses(schema: tantivy.Schema, term: str) -> list[tuple[Occur, Query]]:
    """Near spellings of a word of 4 letters or more, as written (unstemmed)."""
    if len(term) < 4:
        return []
    clauses = []
    # one clause per distance up to the word's limit: a nearer spelling scores more
    for distance in range(1, _typo_distance(term) + 1):
        clauses.append((Occur.Should, _boosted(Query.fuzzy_term_query(
            schema, "title_words", term, distance=distance), TITLE_BOOST)))
        clauses.append((Occur.Should, Query.fuzzy_term_query(
            schema, "abstract_words", term, distance=distance)))
    return clauses


def _field_keys(term: str) -> list[tuple[str, str]]:
    """(field, indexed token) for each field a word is searched in: title and abstract. Names
    are searched with `author:` (or a quoted full name): matched against every free word, they
    cost descriptive queries more than they bring (a "long" or "young" among 33k papers' authors;
    bench/quality.py)."""
    return [("text", t) for t in _EN.analyze(term)]


def _typo_distance(term: str) -> int:
    return 1 if len(term) <= 7 else 2


def _boosted(query: Query, boost: float) -> Query:
    return query if boost == 1.0 else Query.boost_query(query, boost)


def _filter_clauses(schema: tantivy.Schema, filters: Filters | None) -> list[Query]:
    """Filters as zero-score clauses, so they select papers without changing BM25 scores."""
    if filters is None or not filters.active:
        return []
    clauses = []
    if filters.date_from is not None or filters.date_to is not None:
        lower = _midnight(filters.date_from) if filters.date_from else None
        upper = _midnight(filters.date_to + timedelta(days=1)) if filters.date_to else None
        clauses.append(Query.range_query(schema, "published", tantivy.FieldType.Date,
                                         lower, upper, include_upper=upper is None))
    if filters.category is not None:
        clauses.append(Query.term_query(schema, "categories",
                                        (_CATEGORY.analyze(filters.category) or [""])[0]))
    if filters.has_code is not None:
        clauses.append(Query.term_query(schema, "has_code", filters.has_code))
    return [Query.const_score_query(clause, 0.0) for clause in clauses]


def _restricted(query: Query, restrict: list[Query]) -> Query:
    if not restrict:
        return query
    return Query.boolean_query([(Occur.Must, query)] + [(Occur.Must, q) for q in restrict])


def _matched_labels(searcher: tantivy.Searcher, schema: tantivy.Schema,
                    labels: list[tuple[str, Query]], located: Mapping[str, tantivy.DocAddress],
                    ) -> dict[str, list[str]]:
    """{paper id: the labels whose query matches it} for the papers `located` in the index,
    asking the index once per label: for typo hits, whose near spellings the marks do not
    tell, and papers whose text is not at hand."""
    matched: dict[str, list[str]] = {paper_id: [] for paper_id in located}
    where = {(a.segment_ord, a.doc): paper_id for paper_id, a in located.items()}
    among = Query.term_set_query(schema, "id", list(located))
    for label, query in labels:
        result = searcher.search(Query.boolean_query([(Occur.Must, query), (Occur.Must, among)]),
                                 limit=len(located), count=False)
        for _, address in result.hits:
            paper_id = where.get((address.segment_ord, address.doc))
            if paper_id is not None:
                matched[paper_id].append(label)
    return matched


def _held_labels(labels: list[tuple[str, Query]], stems: list[frozenset[str] | None],
                 held: set[str]) -> list[str]:
    """The labels a paper whose title and abstract hold the stems `held` matches."""
    return [label for (label, _), need in zip(labels, stems, strict=True)
            if need is None or need & held]


def _near_spellings(parsed: UserQuery, text: str) -> dict[str, list[str]]:
    """{user's word: the words of `text` that are near spellings of it}, for the words `text`
    does not hold as typed (or as another form of the same stem)."""
    words = sorted(set(_WORD.findall(text.lower())))
    stems = set(_EN.analyze(text))
    near: dict[str, list[str]] = {}
    for term in parsed.terms:
        if len(term) >= 4 and not set(_EN.analyze(term)) <= stems:
            limit = _typo_distance(term)
            found = [w for w in words if w != term and _within_distance(term, w, limit)]
            if found:
                near[term] = found
    return near


def _within_distance(a: str, b: str, limit: int) -> bool:
    """Damerau-Levenshtein (optimal string alignment) distance <= limit, as tantivy's fuzzy."""
    if abs(len(a) - len(b)) > limit:
        return False
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return False
        before, previous = previous, current
    return previous[-1] <= limit


def _distinctive_terms(searcher: tantivy.Searcher, title: str, abstract: str,
                       ) -> tuple[dict[str, float], dict[str, str]]:
    """A paper's most distinctive stems, weighted by tf-idf (title words count double).

    Returns ({stem: weight in (0, 1]}, {stem: the word as the paper writes it}).
    """
    frequency: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text, weight in ((title, 2), (abstract, 1)):
        for word in _WORD.findall(text.lower()):
            if len(word) < 3 or word.isdigit() or not _STOP.analyze(word):
                continue
            for stem in _EN.analyze(word):
                frequency[stem] += weight
                surface.setdefault(stem, word)
    # As Lucene's MoreLikeThis: words the paper uses once are as often incidental ("thereby",
    # "three") as topical; a title word (counted twice) or a repeated one says what it is about.
    repeated = {stem: tf for stem, tf in frequency.items() if tf >= 2}
    if len(repeated) >= 5:
        frequency = Counter(repeated)
    total = max(searcher.num_docs, 1)
    scored = []
    for stem, tf in frequency.items():
        df = max(searcher.doc_freq("title", stem), searcher.doc_freq("abstract", stem))
        if df <= 1 or df > max(5, total * MORE_LIKE_THIS_MAX_DF):
            continue  # only this paper has the word, or so many that it says nothing
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        scored.append(((1 + math.log(tf)) * idf, stem))
    top = sorted(scored, reverse=True)[:MORE_LIKE_THIS_TERMS]
    if not top:
        return {}, {}
    best = top[0][0]
    return {stem: score / best for score, stem in top}, surface


# -- snippets ----------------------------------------------------------------------------------


def _lead(text: str) -> str:
    if len(text) <= SNIPPET_CHARS:
        return html.escape(text)
    return html.escape(text[:SNIPPET_CHARS].rsplit(" ", 1)[0]) + "…"


def _utc(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return _midnight(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def word_stems(text: str) -> list[str]:
    """The stems the word index keeps for this text in a title or abstract."""
    return list(_EN.analyze(text))


@functools.lru_cache(maxsize=65_536)
def word_stem(word: str) -> str | None:
    """One word's stem as the word index keeps it; None for a word it drops (too long)."""
    return next(iter(_EN.analyze(word)), None)


def name_tokens(text: str) -> list[str]:
    """An author name as the word index keeps it: lower-cased, accents folded."""
    return list(_NAME.analyze(text))


def holds(parsed: UserQuery, paper: Mapping[str, Any]) -> bool:
    """Whether a stored paper satisfies the query's `-word`, `title:` and `author:` operators,
    read from its fields as the word index reads them (for backends that cannot ask it)."""
    text = word_stems(f"{paper.get('title') or ''} {paper.get('abstract') or ''}")
    title = word_stems(paper.get("title") or "")
    names = [name_tokens(author) for author in paper.get("authors") or ()]
    if any(_contains(text, word_stems(excluded)) for excluded in parsed.excluded):
        return False
    if not all(_contains(title, word_stems(words)) for words in parsed.titles):
        return False
    return all(any(_contains(name, name_tokens(author)) for name in names)
               for author in parsed.authors)


def _contains(tokens: list[str], part: list[str]) -> bool:
    """`part` occurs in `tokens` as adjacent tokens (an empty part always does)."""
    width = len(part)
    return any(tokens[i:i + width] == part for i in range(len(tokens) - width + 1))


def query_filters(parsed: UserQuery, filters: Filters) -> Filters:
    """`filters` narrowed by the query's `cat:` and `year:` (the query's category wins)."""
    if parsed.category is None and parsed.years is None:
        return filters
    changes: dict[str, object] = {}
    if parsed.category is not None:
        changes["category"] = parsed.category
    if parsed.years is not None:
        first, last = date(parsed.years[0], 1, 1), date(parsed.years[1], 12, 31)
        changes["date_from"] = max(first, filters.date_from or first)
        changes["date_to"] = min(last, filters.date_to or last)
    return replace(filters, **changes)  # type: ignore[arg-type]
