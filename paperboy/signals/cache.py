"""Trending lists computed once and served many times: a list is kept until a signal is
recorded (the store's newest event id moves) or `INTERVAL_S` passes (windows slide with the
clock), so a page view costs one indexed lookup instead of summing the window's events.

One cache per process; a replica computes each list once per change. A list as it stood on a
past day (`day`) is kept until a signal is recorded too, since events may arrive dated in the
past. Readers deleted with their votes, which removes events, show within `INTERVAL_S`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from paperboy.signals.trending import TrendingEntry

__all__ = ["INTERVAL_S", "TrendingCache"]

INTERVAL_S = 300
SHARED_LIMIT = 100  # lists are computed at least this deep, so pages of any size share them
MAX_LISTS = 256


class TrendingCache:
    def __init__(self) -> None:
        # (window, day, category) -> (stamp, depth computed, entries)
        self._lists: dict[tuple[Any, ...], tuple[tuple[int, int], int, list[TrendingEntry]]] = {}
        self._lock = threading.Lock()

    def get(self, *, window: str, day: date | None, category: str | None, limit: int,
            now: datetime, version: int,
            compute: Callable[[int], list[TrendingEntry]]) -> list[TrendingEntry]:
        """The list for these arguments; `compute(depth)` makes it when it is missing or out
        of date (`version`: the newest signal event's id)."""
        key = (window, day, category)
        stamp = (version, int(now.timestamp() // INTERVAL_S) if day is None else 0)
        with self._lock:
            kept = self._lists.get(key)
            if kept is not None and kept[0] == stamp:
                _, depth, entries = kept
                if limit <= depth or len(entries) < depth:  # deep enough, or all there is
                    return entries[:limit]
            depth = max(limit, SHARED_LIMIT)
            entries = compute(depth)
            if len(self._lists) >= MAX_LISTS:
                self._lists.clear()
            self._lists[key] = (stamp, depth, entries)
            return entries[:limit]

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
