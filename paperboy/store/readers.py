"""Readers in the store: accounts, follows, mutes, dismissals, digest send records, throttles.

Deleting a reader deletes everything of theirs, votes included. The digest record of a day is
claimed with an insert that the primary key (reader, day) lets succeed once: that claim, written
before sending, is what keeps a reader to one digest a day across crashes and parallel runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from paperboy.store import tables

_readers = tables.readers
_follows = tables.follows
_mutes = tables.mutes
_library = tables.library
_dismissals = tables.dismissals
_digests = tables.digests
_throttle = tables.throttle

FOLLOW_KINDS = ("query", "category", "author")
MUTE_KINDS = ("word", "author", "category")


class Readers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- accounts ---------------------------------------------------------------------------

    def get(self, reader_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_readers).where(_readers.c.id == reader_id)).first()
        return dict(row._mapping) if row else None

    def by_email(self, email: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_readers).where(
                _readers.c.email == email.strip().lower())).first()
        return dict(row._mapping) if row else None

    def create(self, email: str, now: datetime, *, confirmed: bool = False) -> dict[str, Any]:
        """A new reader (pending until they confirm, unless `confirmed`); the existing one if
        the address is known."""
        email = email.strip().lower()
        try:
            with self.engine.begin() as conn:
                conn.execute(_readers.insert().values(
                    email=email, status="active" if confirmed else "pending", created_at=now,
                    confirmed_at=now if confirmed else None, digest_hour=7, timezone="UTC",
                    bounces=0, link_uses=0))
        except IntegrityError:
            pass  # known address: keep the reader as they are
        found = self.by_email(email)
        assert found is not None
        return found

    def confirm(self, reader_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(_readers).where(
                _readers.c.id == reader_id, _readers.c.status == "pending").values(
                status="active", confirmed_at=now))

    def use_link(self, reader_id: int, uses: int) -> bool:
        """Spend the emailed link made when the reader had used `uses` links: True once."""
        with self.engine.begin() as conn:
            return conn.execute(update(_readers).where(
                _readers.c.id == reader_id, _readers.c.link_uses == uses).values(
                link_uses=uses + 1)).rowcount == 1

    def update(self, reader_id: int, **values: Any) -> None:
        allowed = {"status", "digest_hour", "timezone", "last_digest_at", "bounces",
                   "feed_generation"}
        if unknown := set(values) - allowed:
            raise ValueError(f"cannot set {', '.join(sorted(unknown))} on a reader")
        with self.engine.begin() as conn:
            conn.execute(update(_readers).where(_readers.c.id == reader_id).values(**values))

    def delete(self, reader_id: int) -> None:
        """Delete the reader and everything of theirs (follows, library, votes, digests)."""
        key = reader_key(reader_id)
        with self.engine.begin() as conn:
            for table in (_follows, _mutes, _library, _dismissals, _digests, tables.sessions):
                conn.execute(delete(table).where(table.c.reader_id == reader_id))
            conn.execute(delete(tables.votes).where(tables.votes.c.reader == key))
            events = tables.signal_events
            conn.execute(delete(events).where(events.c.kind == "vote", events.c.key == key))
            conn.execute(delete(_readers).where(_readers.c.id == reader_id))

    def all(self, *, status: str | None = None) -> list[dict[str, Any]]:
        query = select(_readers).order_by(_readers.c.id)
        if status is not None:
            query = query.where(_readers.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- follows ----------------------------------------------------------------------------

    def follow(self, reader_id: int, kind: str, value: str, now: datetime, *,
               filters: dict[str, Any] | None = None, vector: np.ndarray | None = None) -> bool:
        """Follow a query, category or author; False when already followed."""
        return self._add_named(
            _follows, FOLLOW_KINDS, ("follow", "followed"), reader_id, kind, value, created_at=now,
            filters=filters or {},
            vector=None if vector is None else np.asarray(vector, np.float32).tobytes())

    def unfollow(self, reader_id: int, follow_id: int) -> None:
        self._remove_row(_follows, reader_id, follow_id)

    def follows(self, reader_ids: Sequence[int]) -> list[dict[str, Any]]:
        return self._rows_of(_follows, reader_ids)

    # -- mutes ------------------------------------------------------------------------------

    def mute(self, reader_id: int, kind: str, value: str, now: datetime) -> bool:
        """Hide a word, author or category from the reader; False when already muted."""
        return self._add_named(_mutes, MUTE_KINDS, ("mute", "muted"), reader_id, kind, value,
                               created_at=now)

    def unmute(self, reader_id: int, mute_id: int) -> None:
        self._remove_row(_mutes, reader_id, mute_id)

    def mutes(self, reader_ids: Sequence[int]) -> list[dict[str, Any]]:
        return self._rows_of(_mutes, reader_ids)

    # follows and mutes alike: a (kind, value) per row, unique per reader

    def _add_named(self, table: Any, kinds: tuple[str, ...], verb: tuple[str, str],
                   reader_id: int, kind: str, value: str, **values: Any) -> bool:
        if kind not in kinds:
            raise ValueError(f"cannot {verb[0]} a {kind!r}: use one of {', '.join(kinds)}")
        value = " ".join(value.split())
        if not value:
            raise ValueError(f"an empty {kind} cannot be {verb[1]}")
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(reader_id=reader_id, kind=kind,
                                                   value=value[:500], **values))
        except IntegrityError:
            return False
        return True

    def _remove_row(self, table: Any, reader_id: int, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.id == row_id,
                                             table.c.reader_id == reader_id))

    def _rows_of(self, table: Any, reader_ids: Sequence[int]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(table).where(table.c.reader_id.in_(list(reader_ids)))
                .order_by(table.c.reader_id, table.c.id))]

    # -- dismissals and what readers have, for digests --------------------------------------

    def dismiss(self, reader_id: int, paper_id: str, now: datetime) -> bool:
        return self._add(_dismissals, reader_id, paper_id, at=now)

    def _add(self, table: Any, reader_id: int, paper_id: str, **values: Any) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(reader_id=reader_id, paper_id=paper_id,
                                                   **values))
        except IntegrityError:
            return False
        return True

    def dismissed(self, reader_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(_dismissals.c.paper_id).where(
                _dismissals.c.reader_id == reader_id)).scalars())

    def papers_of(self, reader_ids: Sequence[int], *,
                  now: datetime) -> dict[int, dict[str, list[str]]]:
        """For each reader: their `library` (every saved paper once), `dismissed` and `voted`
        papers, and the papers of their `recent` (last 7 days') digests, in a few queries for
        any number of readers. Their collections are `Library.of_readers`."""
        found: dict[int, dict[str, list[str]]] = {
            rid: {"library": [], "dismissed": [], "voted": [], "recent": []}
            for rid in reader_ids}
        keys = {reader_key(rid): rid for rid in reader_ids}
        votes = tables.votes
        week_ago = (now.date() - timedelta(days=8)).isoformat()
        with self.engine.connect() as conn:
            for start in range(0, len(reader_ids), 5000):
                chunk = list(reader_ids[start:start + 5000])
                for rid, pid in conn.execute(select(_library.c.reader_id, _library.c.paper_id)
                                             .where(_library.c.reader_id.in_(chunk)).distinct()):
                    found[rid]["library"].append(pid)
                for rid, pid in conn.execute(select(_dismissals.c.reader_id,
                                                    _dismissals.c.paper_id)
                                             .where(_dismissals.c.reader_id.in_(chunk))):
                    found[rid]["dismissed"].append(pid)
                for rid, papers in conn.execute(select(_digests.c.reader_id, _digests.c.papers)
                                                .where(_digests.c.reader_id.in_(chunk),
                                                       _digests.c.day >= week_ago)):
                    found[rid]["recent"].extend(papers)
                chunk_keys = [reader_key(rid) for rid in chunk]
                for key, pid in conn.execute(select(votes.c.reader, votes.c.paper_id)
                                             .where(votes.c.reader.in_(chunk_keys))):
                    found[keys[key]]["voted"].append(pid)
        return found

    # -- digests ----------------------------------------------------------------------------

    def claim_digest(self, reader_id: int, day: str, papers: list[str], now: datetime) -> bool:
        """Record that this reader's digest of `day` is being sent; False if one already was
        (or is being) sent, by this run or any other."""
        try:
            with self.engine.begin() as conn:
                conn.execute(_digests.insert().values(
                    reader_id=reader_id, day=day, status="sending", created_at=now,
                    papers=papers))
        except IntegrityError:
            # one left to retry (a temporary SMTP failure) may be claimed again, by one run
            with self.engine.begin() as conn:
                return conn.execute(update(_digests).where(
                    _digests.c.reader_id == reader_id, _digests.c.day == day,
                    _digests.c.status == "retry").values(
                    status="sending", papers=papers, error=None)).rowcount == 1
        return True

    def finish_digest(self, reader_id: int, day: str, status: str, now: datetime, *,
                      error: str | None = None, last_digest_at: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(_digests).where(
                _digests.c.reader_id == reader_id, _digests.c.day == day).values(
                status=status, sent_at=now if status == "sent" else None, error=error))
            if last_digest_at is not None:
                conn.execute(update(_readers).where(_readers.c.id == reader_id).values(
                    last_digest_at=last_digest_at))

    def digest_days(self, wanted: Sequence[tuple[dict[str, Any], str]]) -> set[tuple[int, str]]:
        """Which (reader id, day) of these (reader, day) pairs have a digest that is not
        waiting for a retry."""
        days = sorted({day for _, day in wanted})
        ids = [reader["id"] for reader, _ in wanted]
        done: set[tuple[int, str]] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 5000):
                done.update((rid, day) for rid, day in conn.execute(
                    select(_digests.c.reader_id, _digests.c.day).where(
                        _digests.c.reader_id.in_(ids[start:start + 5000]),
                        _digests.c.day.in_(days), _digests.c.status != "retry")))
        return done & {(reader["id"], day) for reader, day in wanted}

    def digests(self, reader_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(_digests).where(_digests.c.reader_id == reader_id)
                .order_by(_digests.c.day))]

    # -- rate limits ------------------------------------------------------------------------

    def attempt(self, keys: Sequence[str], now: datetime, *, limit: int,
                per: timedelta) -> bool:
        """Count an attempt under each key; False (and nothing counted) when any key already
        reached `limit` attempts within `per`."""
        since = now - per
        with self.engine.begin() as conn:
            conn.execute(delete(_throttle).where(_throttle.c.at < now - timedelta(days=1)))
            for key in keys:
                used = conn.execute(select(func.count()).select_from(_throttle).where(
                    _throttle.c.key == key, _throttle.c.at >= since)).scalar_one()
                if used >= limit:
                    return False
            conn.execute(_throttle.insert(), [{"key": key, "at": now} for key in keys])
        return True


def reader_key(reader_id: int) -> str:
    """How a reader is named in the votes and signal events (which predate accounts)."""
    return f"reader:{reader_id}"
