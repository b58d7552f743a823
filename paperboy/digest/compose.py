"""What goes into each reader's digest: new papers on what they follow, recommendations learned
from their library, and trending papers, with no paper twice and a reason beside each.

The work shared by all readers is done once per run (`Edition`): the papers first seen since the
oldest reader's last digest, their vectors, an inverted index of their word stems, categories and
authors, and the trending list. Each reader then costs a few set intersections and one small
matrix product, which keeps 10,000 readers within a couple of minutes.

Matching rules (each paper says which one it met):
- a followed topic (a search) matches a paper whose title or abstract holds every word of it
  (stemmed, as search does), or whose vector is within `SEMANTIC_MIN` cosine of the topic's,
  and that passes the search's filters (category, has code);
- a followed category matches a paper listed in it (any of its categories);
- a followed author matches a paper with that author (case and accents ignored).

Recommendations come from a linear model per collection of the reader's library, over the
vectors of its papers (upvoted papers join the default collection), with the papers of their
other collections among its negatives; each collection has its own section. Without a library
they come from the papers nearest their followed topics (at least `COLD_START_MIN` cosine).
Trending papers already sent in the last week are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from paperboy.index.lexical_query import name_tokens, parse_user_query, word_stems
from paperboy.readers.mutes import Mutes
from paperboy.readers.recommend import cold_start, recommend
from paperboy.signals.trending import TrendingEntry
from paperboy.store import Store
from paperboy.store.library import DEFAULT
from paperboy.store.tables import papers

SEMANTIC_MIN = 0.5  # cosine between a followed topic and a paper's vector to count as a match
COLD_START_MIN = 0.35  # without a library, recommend only papers at least this near a topic
MAX_FOLLOWED = 25  # papers per digest from follows
MAX_RECOMMENDED = 5  # per collection
MAX_TRENDING = 5
MAX_NEW_PAPERS = 50_000  # new papers one run considers (the newest)
RECOMMEND_NEGATIVES = 300  # sampled negatives per reader model (bench/recommend.py: 500-2000)


SECTIONS = {"updates": "Updates to your papers", "followed": "New on what you follow",
            "recommended": "Recommended for you", "trending": "Trending"}


@dataclass
class Item:
    paper: dict[str, Any]
    section: str  # updates | followed | recommended | trending
    why: str
    collection: str | None = None  # the collection a recommendation was learnt from


@dataclass
class Part:
    """A section as a digest shows it; recommendations make one part per collection."""

    section: str
    heading: str
    items: list[Item]
    collection: str | None = None


@dataclass
class Digest:
    reader: dict[str, Any]
    day: str
    since: datetime  # what the digest calls new: papers first seen after this moment
    items: list[Item] = field(default_factory=list)
    hidden: int = 0  # papers left out because of the reader's mutes

    def section(self, name: str) -> list[Item]:
        return [item for item in self.items if item.section == name]

    def parts(self, *, empty: bool = False) -> list[Part]:
        """The sections in the order a reader sees them, recommendations split by the
        collection they come from when there are several; `empty` keeps empty sections."""
        parts: list[Part] = []
        for name, heading in SECTIONS.items():
            items = self.section(name)
            groups = list(dict.fromkeys(item.collection for item in items))
            if name == "recommended" and len(groups) > 1:
                parts.extend(Part(name, f"Recommended for “{group}”",
                                  [item for item in items if item.collection == group], group)
                             for group in groups)
            elif items or empty:
                parts.append(Part(name, heading, items, groups[0] if groups else None))
        return parts

    @property
    def new(self) -> int:
        """Papers that are new to the reader (not just trending)."""
        return sum(item.section not in ("trending", "updates") for item in self.items)


class Edition:
    """The papers new since `since`, indexed for matching, and the day's trending list."""

    def __init__(self, store: Store, *, since: datetime, model: str | None,
                 trending: Sequence[TrendingEntry]) -> None:
        self.store = store
        with store.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                select(papers).where(papers.c.first_seen > since)
                .order_by(papers.c.first_seen.desc()).limit(MAX_NEW_PAPERS))]
        self.papers = rows
        self.first_seen = np.array([r["first_seen"].timestamp() for r in rows])
        self.index = {r["id"]: i for i, r in enumerate(rows)}
        self.stems: dict[str, set[int]] = defaultdict(set)
        self.categories: dict[str, set[int]] = defaultdict(set)
        self.authors: dict[str, set[int]] = defaultdict(set)
        for i, row in enumerate(rows):
            for stem in set(word_stems(f"{row['title']}\n{row['abstract']}")):
                self.stems[stem].add(i)
            for category in row["categories"] or ():
                self.categories[category.lower()].add(i)
            for author in row["authors"] or ():
                self.authors[" ".join(name_tokens(author))].add(i)
        # Papers are newest first, so the papers new to a reader are a prefix (rows [0, cut)),
        # and so are their vectors: the matrix rows follow the same order.
        found = store.embeddings.vectors_of(list(self.index), model) if model and rows else {}
        self.vector_ids = [row["id"] for row in rows if row["id"] in found]
        self.matrix = (np.vstack([found[pid] for pid in self.vector_ids]) if self.vector_ids
                       else np.zeros((0, 0), np.float32))
        self.vector_paper = np.array([self.index[pid] for pid in self.vector_ids],
                                     dtype=np.int64)
        self.trending = list(trending)

    def _fresh_vectors(self, cut: int) -> tuple[list[str], np.ndarray]:
        """Ids and vectors (a view) of the papers in rows [0, cut)."""
        k = int(np.searchsorted(self.vector_paper, cut))
        return self.vector_ids[:k], self.matrix[:k]

    def compose(self, reader: dict[str, Any], follows: Iterable[dict[str, Any]], *,
                since: datetime, day: str, collections: Mapping[str, dict[str, np.ndarray]],
                dismissed: dict[str, np.ndarray], sent_before: set[str],
                titles: dict[str, str] | None = None, mutes: Mutes | None = None) -> Digest:
        """One reader's digest; `collections` maps each collection's name to its papers'
        vectors (the default one first), `titles` names those papers (for the reasons);
        papers their `mutes` hide are left out and counted."""
        digest = Digest(reader, day, since)
        cut = int(np.count_nonzero(self.first_seen > since.timestamp()))
        candidates, matrix = self._fresh_vectors(cut)
        saved = {pid: vector for library in collections.values()
                 for pid, vector in library.items()}
        skip = set(dismissed) | set(saved)
        chosen: set[str] = set()
        muted: set[str] = set()

        def add(paper: dict[str, Any], section: str, why: str,
                collection: str | None = None) -> bool:
            if paper["id"] in chosen or paper["id"] in skip or paper["id"] in muted:
                return False
            if mutes and mutes.hides(paper):
                muted.add(paper["id"])
                return False
            chosen.add(paper["id"])
            digest.items.append(Item(paper, section, why, collection))
            return True

        follows = list(follows)
        topics = {f["value"]: np.frombuffer(f["vector"], np.float32) for f in follows
                  if f["kind"] == "query" and f.get("vector")
                  and len(f["vector"]) == 4 * matrix.shape[1]}
        # every topic against every new vector in one product
        similarity = dict(zip(topics, (matrix @ np.vstack(list(topics.values())).T).T,
                              strict=True)) if topics and len(candidates) else {}
        matches: dict[int, str] = {}
        for follow in follows:
            for i, why in self._matches(follow, cut, similarity.get(follow["value"])).items():
                matches.setdefault(i, why)
        followed = 0
        for i in sorted(matches):  # the smaller the row, the newer
            if followed == MAX_FOLLOWED:
                break
            followed += add(self.papers[i], "followed", matches[i])

        if candidates and saved:
            for name, library in collections.items():
                if not library:
                    continue
                picks = recommend(library=library, dismissed=dismissed, candidates=candidates,
                                  matrix=matrix, k=MAX_RECOMMENDED + len(chosen),
                                  negatives=RECOMMEND_NEGATIVES, exclude=chosen, others={
                                      pid: v for pid, v in saved.items() if pid not in library})
                where = "your library" if name == DEFAULT else f"your collection “{name}”"
                recommended = 0
                for pick in picks:
                    if recommended == MAX_RECOMMENDED:
                        break
                    title = (titles or {}).get(pick.closest_id or "", pick.closest_id)
                    recommended += add(self.papers[self.index[pick.paper_id]], "recommended",
                                       f"close to “{title}” in {where}", name)
        elif candidates:
            picks = cold_start(topics=topics, candidates=candidates, matrix=matrix,
                               k=MAX_RECOMMENDED + len(chosen), exclude=chosen)
            recommended = 0
            for pick in picks:
                if recommended == MAX_RECOMMENDED or (pick.closest_similarity or 0) < \
                        COLD_START_MIN:
                    break
                recommended += add(self.papers[self.index[pick.paper_id]], "recommended",
                                   f"close in meaning to your topic “{pick.closest_id}”")

        for entry in self.trending:
            if len(digest.section("trending")) >= MAX_TRENDING:
                break
            if entry.id not in sent_before:
                add(entry.paper or {"id": entry.id, "title": entry.title}, "trending",
                    entry.explanation)
        digest.hidden = len(muted)
        return digest

    def _matches(self, follow: dict[str, Any], cut: int,
                 similarity: np.ndarray | None) -> dict[int, str]:
        kind, value = follow["kind"], follow["value"]
        found: dict[int, str] = {}
        if kind == "category":
            for i in self.categories.get(value.lower(), ()):
                if i < cut:
                    found[i] = f"in {value}, which you follow"
        elif kind == "author":
            for i in self.authors.get(" ".join(name_tokens(value)), ()):
                if i < cut:
                    found[i] = f"by {value}, whom you follow"
        elif kind == "query":
            found = self._topic(value, cut, similarity)
            return {i: why for i, why in found.items() if self._passes(i, follow["filters"])}
        return found

    def _passes(self, i: int, filters: dict[str, Any] | None) -> bool:
        """Whether a new paper passes a followed search's filters (category, has code)."""
        paper = self.papers[i]
        if filters and filters.get("category") and filters["category"].lower() not in {
                c.lower() for c in paper["categories"] or ()}:
            return False
        return not (filters and filters.get("has_code") and not paper["links"].get("code"))

    def _topic(self, value: str, cut: int, similarity: np.ndarray | None) -> dict[int, str]:
        """New papers holding every word of a followed search, or near it in meaning
        (`similarity`: the search's cosine with each new vector, rows as `_fresh_vectors`)."""
        found: dict[int, str] = {}
        parsed = parse_user_query(value)
        stems = {s for term in parsed.terms + parsed.phrases for s in word_stems(term)}
        postings = sorted((self.stems.get(stem, set()) for stem in stems), key=len)
        if postings:
            for i in postings[0].intersection(*postings[1:]):
                if i < cut:
                    found[i] = f"matches your topic “{value}”"
        if similarity is not None:
            for row in np.nonzero(similarity >= SEMANTIC_MIN)[0]:
                i = int(self.vector_paper[row])
                if i not in found:
                    found[i] = (f"close in meaning to your topic “{value}” "
                                f"(cosine {similarity[row]:.2f})")
        return found


def default_since(now: datetime) -> datetime:
    """Where a first digest starts: the papers of the last day."""
    return now - timedelta(days=1)
