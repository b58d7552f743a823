"""The trending ranking: what gained upvotes and stars lately, with every number shown.

For a window W ending at T (now, or the end of the `--at` day, UTC), a paper's score is

    score = sum over its events e dated in [T - W, T) and known before T of
            weight(e.kind) * gain(e) * 0.5 ** ((T - dated(e)) / half_life(W))

- `gain` is what an event adds: +1 for a reader's upvote (-1, dated at that vote, when it is
  withdrawn), the growth of the paper's Hugging Face upvote count since its previous count (its
  first count, from zero), the growth of its repository's stars since the previous snapshot (a
  first snapshot is only a baseline);
- `weight` is 1 for an upvote and 0.1 for a star (ten stars count as one upvote);
- the decay halves an event's weight every half window, so recent activity counts most: this is
  the velocity of votes and stars inside the window, not their sum since publication;
- papers first published (or, without a date, first seen) more than `max_age` before T are left
  out, however busy their repository: old famous papers do not crowd the list;
- only papers with a positive score are listed, best first; ties go to the newer paper, then to
  the smaller id.

`score` below is the formula as a pure function; `Signals.window_totals` computes the same sum in
the database for every paper at once (a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from paperboy.store.signals import Signals, from_micros

WEIGHTS = {"vote": 1.0, "hf_upvotes": 1.0, "stars": 0.1}


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    max_age: timedelta
    words: str  # "the last 7 days"

    @property
    def half_life(self) -> timedelta:
        return self.span / 2


WINDOWS = {
    "day": Window("day", timedelta(days=1), timedelta(days=30), "24 hours"),
    "week": Window("week", timedelta(days=7), timedelta(days=60), "7 days"),
    "month": Window("month", timedelta(days=30), timedelta(days=120), "30 days"),
}


@dataclass(frozen=True, slots=True)
class Event:
    """One signal event as the formula sees it (see store/signals.py for how they are kept)."""

    kind: str
    gain: int
    dated: datetime  # when it counts
    at: datetime  # when it happened


def score(events: Iterable[Event], *, born: datetime, until: datetime, window: Window) -> float:
    """A paper's trending score at `until` from its events and its first publication date."""
    if not until - window.max_age <= born < until:
        return 0.0
    start, half_life = until - window.span, window.half_life.total_seconds()
    return sum(WEIGHTS[e.kind] * e.gain * 0.5 ** ((until - e.dated).total_seconds() / half_life)
               for e in events if start <= e.dated < until and e.at < until)


@dataclass
class TrendingEntry:
    id: str
    title: str
    score: float
    explanation: str
    upvotes: int  # local and Hugging Face upvotes gained in the window
    local_upvotes: int
    hf_upvotes: int
    stars: int  # stars gained in the window
    rank: int
    paper: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "id": self.id, "title": self.title,
                "score": round(self.score, 4), "explanation": self.explanation,
                "upvotes": self.upvotes, "local_upvotes": self.local_upvotes,
                "hf_upvotes": self.hf_upvotes, "stars": self.stars}


def end_of(day: date | None, now: datetime) -> datetime:
    """Where a window ends: now, or the end of a past day (UTC) to see the list as it stood."""
    if day is None:
        return now
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def trending(signals: Signals, papers: Any, *, window: str = "week", day: date | None = None,
             category: str | None = None, limit: int = 100,
             now: datetime) -> list[TrendingEntry]:
    """The trending list at `now`; `papers(ids)` returns stored papers by id (for titles)."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)}")
    w = WINDOWS[window]
    until = end_of(day, now)
    totals = signals.window_totals(
        start=until - w.span, end=until, half_life_s=w.half_life.total_seconds(),
        weights=WEIGHTS, published_after=until - w.max_age, category=category,
        limit=max(0, limit))
    found = papers([t.paper_id for t in totals])
    period = f"in the last {w.words}" if day is None else f"in the {w.words} to {day}"
    return [TrendingEntry(
        id=t.paper_id, title=found.get(t.paper_id, {}).get("title", ""), score=t.score,
        explanation=explain(t.votes, t.hf_upvotes, t.stars, period),
        upvotes=t.votes + t.hf_upvotes, local_upvotes=t.votes, hf_upvotes=t.hf_upvotes,
        stars=t.stars, rank=rank, paper=found.get(t.paper_id, {}))
        for rank, t in enumerate(totals, start=1)]


def explain(local: int, hf: int, stars: int, period: str) -> str:
    """'14 upvotes (9 here, 5 on Hugging Face) and +320 stars in the last 7 days'."""
    parts = []
    upvotes = local + hf
    if local and hf:
        parts.append(f"{_count(upvotes, 'upvote')} ({local} here, {hf} on Hugging Face)")
    elif hf:
        parts.append(f"{_count(hf, 'upvote')} on Hugging Face")
    elif local:
        parts.append(_count(local, "upvote"))
    if stars:
        parts.append(f"{stars:+,} {'star' if abs(stars) == 1 else 'stars'}")
    return f"{' and '.join(parts) or 'no change'} {period}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def events_of(rows: Iterable[dict[str, Any]]) -> list[Event]:
    """Stored event rows (Signals.history) as the formula's events."""
    return [Event(row["kind"], row["gain"], from_micros(row["dated"]), from_micros(row["at"]))
            for row in rows]
