"""Trending lists computed once and served many times: a list is kept until a signal is
recorded (the store's newest event id moves) or `INTERVAL_S` passes (windows slide with the
clock), so a page view costs one indexed lookup instead of summing the window's events.

A list that is quick to compute (under `QUICK_S`) is computed again as soon as it is out of
date, so a vote shows on the next view. A slow one (a month over millions of events takes
seconds) is served to page views as it was while a background thread computes the new one
(a digest or the CLI asks for the list as it stands, and waits for it), as HTTP's
stale-while-revalidate does (RFC 5861), and not more often than its own computing time allows:
refreshing it takes at most `REFRESH_SHARE` of one core however often signals arrive.

One cache per process; a replica computes each list once per change. A list as it stood on a
past day (`day`) is kept until a signal is recorded too, since events may arrive dated in the
past. Readers deleted with their votes, which removes events, show within `INTERVAL_S`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from paperboy.signals.trending import TrendingEntry

__all__ = ["INTERVAL_S", "QUICK_S", "REFRESH_SHARE", "TrendingCache"]

INTERVAL_S = 300
SHARED_LIMIT = 100  # lists are computed at least this deep, so pages of any size share them
MAX_LISTS = 256
QUICK_S = 0.25  # a list computed faster than this is never served out of date
REFRESH_SHARE = 0.1  # of one core, at most, spent refreshing a slow list in the background

log = logging.getLogger(__name__)

Key = tuple[Any, ...]
Stamp = tuple[int, int]


@dataclass(slots=True)
class _Kept:
    stamp: Stamp
    depth: int
    entries: list[TrendingEntry]
    seconds: float  # how long computing it took
    done_at: float  # time.monotonic() when it was computed

    def serves(self, limit: int) -> bool:
        """Deep enough for `limit`, or all there is."""
        return limit <= self.depth or len(self.entries) < self.depth


class TrendingCache:
    def __init__(self) -> None:
        self._lists: dict[Key, _Kept] = {}
        self._refreshing: set[Key] = set()
        self._key_locks: dict[Key, threading.Lock] = {}  # one computation of a list at a time
        self._lock = threading.Lock()

    def get(self, *, window: str, day: date | None, category: str | None, limit: int,
            now: datetime, version: int, compute: Callable[[int], list[TrendingEntry]],
            stale_ok: bool = False) -> list[TrendingEntry]:
        """The list for these arguments; `compute(depth)` makes it when it is missing or out
        of date (`version`: the newest signal event's id). `stale_ok` (a page view): when
        computing is slow, the kept list now and the new one computed in the background; else
        (a digest, the CLI) the list as it stands, computed now if need be."""
        key = (window, day, category)
        stamp = (version, int(now.timestamp() // INTERVAL_S) if day is None else 0)
        if (served := self._served(key, stamp, limit, stale_ok, compute)) is not None:
            return served
        with self._computing(key):  # views arriving meanwhile wait for this one computation
            if (served := self._served(key, stamp, limit, False, compute)) is not None:
                return served
            return self._compute(key, stamp, max(limit, SHARED_LIMIT), compute)[:limit]

    def _served(self, key: Key, stamp: Stamp, limit: int, stale_ok: bool,
                compute: Callable[[int], list[TrendingEntry]]) -> list[TrendingEntry] | None:
        """The kept list when it is current (or, `stale_ok`, slow to compute: it is then
        refreshed in the background); None when it must be computed now."""
        with self._lock:
            kept = self._lists.get(key)
            if kept is None or not kept.serves(limit):
                return None
            if kept.stamp == stamp:
                return kept.entries[:limit]
            if stale_ok and kept.seconds >= QUICK_S:
                self._refresh_later(key, kept, stamp, compute)
                return kept.entries[:limit]
            return None

    def _computing(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _compute(self, key: Key, stamp: Stamp, depth: int,
                 compute: Callable[[int], list[TrendingEntry]]) -> list[TrendingEntry]:
        started = time.monotonic()
        entries = compute(depth)
        done = time.monotonic()
        with self._lock:
            if len(self._lists) >= MAX_LISTS:
                self._lists.clear()
            self._lists[key] = _Kept(stamp, depth, entries, done - started, done)
        return entries

    def _refresh_later(self, key: Key, kept: _Kept, stamp: Stamp,
                       compute: Callable[[int], list[TrendingEntry]]) -> None:
        """Start computing `key` anew in a thread, unless one is at it or the last one
        finished too recently for the share of a core refreshing may take (holds the lock)."""
        if key in self._refreshing or \
                time.monotonic() - kept.done_at < kept.seconds / REFRESH_SHARE:
            return
        self._refreshing.add(key)

        def refresh() -> None:
            try:
                self._compute(key, stamp, kept.depth, compute)
            except Exception:  # the old list stays; the next view after the pause tries again
                log.exception("refreshing the trending list %s failed", key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=refresh, name="paperboy-trending", daemon=True).start()

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
