"""Trending signals in the store: events with their gains, current votes, repository checks.

Every observation is one row of `signal_events` in a series (paper, kind, key). Its `gain` (the
change over the previous observation of the series) is computed when the row is written, so a
window's totals are a sum over one indexed range of `dated`, done by the database
(`window_totals`), never a Python loop over the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, case, delete, func, select

from paperboy.models import Filters, Signal
from paperboy.store import tables
from paperboy.store.filters import paper_filters

Kind = Literal["vote", "hf_upvotes", "stars"]

_events = tables.signal_events
_votes = tables.votes
_repos = tables.repositories
_papers = tables.papers


def micros(moment: datetime) -> int:
    """A UTC-aware datetime as integer microseconds since the epoch (how events store time)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}; signals take UTC-aware times")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """One paper's signals inside a window, as `window_totals` sums them."""

    paper_id: str
    score: float
    votes: int  # local upvotes, net of withdrawals
    hf_upvotes: int
    stars: int


class Signals:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing ----------------------------------------------------------------------------

    def observe(self, conn: Connection, observations: Iterable[tuple[str, Signal]]) -> int:
        """Record papers' totals (idempotent: a total at a moment is stored once, the latest
        word wins) and recompute the gains of every series they touch; returns rows changed."""
        by_series: dict[tuple[str, str, str], dict[int, int]] = {}
        for paper_id, o in observations:
            by_series.setdefault((paper_id, o.kind, o.key), {})[micros(o.at)] = o.value
        changed = 0
        for (paper_id, kind, key), new in by_series.items():
            series = _events.c.paper_id == paper_id, _events.c.kind == kind, _events.c.key == key
            stored = {row.at: (row.id, row.value, row.gain) for row in conn.execute(
                select(_events.c.id, _events.c.at, _events.c.value, _events.c.gain)
                .where(*series))}
            values = {at: value for at, (_, value, _) in stored.items()} | new
            previous: int | None = None
            for at in sorted(values):
                value = values[at]
                gain = _gain(kind, previous, value)
                previous = value
                if at not in stored:
                    conn.execute(_events.insert().values(
                        paper_id=paper_id, kind=kind, key=key, at=at, dated=at, value=value,
                        gain=gain))
                    changed += 1
                elif stored[at][1:] != (value, gain):
                    conn.execute(_events.update().where(_events.c.id == stored[at][0])
                                 .values(value=value, gain=gain))
                    changed += 1
        return changed

    def vote(self, reader: str, paper_id: str, now: datetime) -> bool:
        """Upvote a paper for a reader; False when they had already upvoted it."""
        with self.engine.begin() as conn:
            if conn.execute(select(_votes.c.reader).where(
                    _votes.c.reader == reader, _votes.c.paper_id == paper_id)).first():
                return False
            conn.execute(_votes.insert().values(reader=reader, paper_id=paper_id, voted_at=now))
            conn.execute(_events.insert().values(
                paper_id=paper_id, kind="vote", key=reader,
                at=_vote_event_at(conn, reader, paper_id, now), dated=micros(now),
                value=1, gain=1))
        return True

    def withdraw(self, reader: str, paper_id: str, now: datetime) -> bool:
        """Take back a reader's upvote; it stops counting from `now`. False if there was none."""
        with self.engine.begin() as conn:
            voted_at = conn.execute(select(_votes.c.voted_at).where(
                _votes.c.reader == reader, _votes.c.paper_id == paper_id)).scalar()
            if voted_at is None:
                return False
            conn.execute(delete(_votes).where(
                _votes.c.reader == reader, _votes.c.paper_id == paper_id))
            # Dated at the vote it cancels, so the two cancel exactly in every window and decay.
            conn.execute(_events.insert().values(
                paper_id=paper_id, kind="vote", key=reader,
                at=_vote_event_at(conn, reader, paper_id, now),
                dated=micros(voted_at), value=-1, gain=-1))
        return True

    def voted_by(self, reader: str) -> list[str]:
        """The papers a reader upvotes now."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(_votes.c.paper_id).where(
                _votes.c.reader == reader)).scalars())

    def has_vote(self, reader: str, paper_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(_votes.c.reader).where(
                _votes.c.reader == reader, _votes.c.paper_id == paper_id)).first() is not None

    def version(self) -> int:
        """The newest signal event's id: it moves whenever a signal is recorded."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(_events.c.id))).scalar() or 0)

    def count(self) -> int:
        """How many signal events are stored."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_events)).scalar_one()

    def voters(self, paper_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_votes).where(
                _votes.c.paper_id == paper_id)).scalar_one()

    def votes_of(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Current local upvotes of these papers (those with none are left out)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(  # type: ignore[arg-type]
                select(_votes.c.paper_id, func.count()).where(
                    _votes.c.paper_id.in_(list(paper_ids))).group_by(_votes.c.paper_id)).all())

    def stars_of(self, repos: Sequence[str]) -> dict[str, int]:
        """The last known star count of these repositories (owner/name)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(  # type: ignore[arg-type]
                select(_repos.c.repo, _repos.c.stars).where(
                    _repos.c.repo.in_(list(repos)), _repos.c.stars.is_not(None))).all())

    # -- repositories -----------------------------------------------------------------------

    def repositories(self) -> dict[str, dict[str, Any]]:
        """The last check of every repository, by owner/name."""
        with self.engine.connect() as conn:
            return {row.repo: dict(row._mapping) for row in conn.execute(select(_repos))}

    def save_check(self, conn: Connection, check: dict[str, Any]) -> None:
        conn.execute(delete(_repos).where(_repos.c.repo == check["repo"]))
        conn.execute(_repos.insert().values(**check))

    # -- reading ----------------------------------------------------------------------------

    def history(self, paper_ids: Sequence[str], *, until: datetime | None = None,
                ) -> list[dict[str, Any]]:
        """Every event of these papers (known by `until`), oldest first."""
        query = select(_events).where(_events.c.paper_id.in_(list(paper_ids)))
        if until is not None:
            query = query.where(_events.c.at < micros(until))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(_events.c.at))]

    def window_totals(self, *, start: datetime, end: datetime, half_life_s: float,
                      weights: dict[str, float], published_after: datetime,
                      category: str | None, limit: int) -> list[WindowTotals]:
        """The best `limit` papers by decayed, weighted gains dated in [start, end) and known
        before `end`, among papers published after `published_after`; see trending.py."""
        end_us = micros(end)
        decay = func.exp((_events.c.dated - end_us) * (0.6931471805599453 / (half_life_s * 1e6)))
        weight = sum(  # type: ignore[arg-type]
            (_case(_events.c.kind == kind, weight) for kind, weight in weights.items()))
        totals = (
            select(_events.c.paper_id,
                   func.sum(_events.c.gain * weight * decay).label("score"),
                   func.sum(_case(_events.c.kind == "vote", _events.c.gain)).label("votes"),
                   func.sum(_case(_events.c.kind == "hf_upvotes", _events.c.gain))
                   .label("hf_upvotes"),
                   func.sum(_case(_events.c.kind == "stars", _events.c.gain)).label("stars"))
            .where(_events.c.dated >= micros(start), _events.c.dated < end_us,
                   _events.c.at < end_us)
            .group_by(_events.c.paper_id).subquery())
        born = func.coalesce(_papers.c.published, _papers.c.first_seen)
        query = (select(totals).join(_papers, _papers.c.id == totals.c.paper_id)
                 .where(totals.c.score > 0, born >= published_after, born < end)
                 .order_by(totals.c.score.desc(), born.desc(), _papers.c.id)
                 .limit(limit))
        if category:
            query = query.where(*paper_filters(self.engine.dialect.name,
                                               Filters(category=category)))
        with self.engine.connect() as conn:
            return [WindowTotals(row.paper_id, float(row.score), int(row.votes or 0),
                                 int(row.hf_upvotes or 0), int(row.stars or 0))
                    for row in conn.execute(query)]


def _gain(kind: str, previous: int | None, value: int) -> int:
    """What an observation adds over the one before it in its series.

    Hugging Face upvotes start from zero on the daily list, so a first count is all gain. A first
    star count is only a baseline: a repository seen with 40,000 stars did not just earn them.
    """
    if previous is None:
        return value if kind == "hf_upvotes" else 0
    return value - previous


def _case(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=0)


def _vote_event_at(conn: Connection, reader: str, paper_id: str, now: datetime) -> int:
    """When a reader's vote event on a paper happens: now, or a microsecond after their last
    one (an upvote and its withdrawal within one clock tick stay two events, in order)."""
    last = conn.execute(select(func.max(_events.c.at)).where(
        _events.c.paper_id == paper_id, _events.c.kind == "vote",
        _events.c.key == reader)).scalar()
    return micros(now) if last is None else max(micros(now), int(last) + 1)
