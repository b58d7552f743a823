"""The one place Paperboy reads the time of day.

A `Clock` returns the current moment as an aware UTC datetime. The service takes one
(`Paperboy(settings, clock=...)`) and hands it to every part that asks what time it is: the
digest's "new since", the day a reader is due, trending windows, leases, the records of runs.
The system clock is the default; `FixedClock` is the deterministic one the tests use, so that
what they check does not depend on the day or the hour they run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock that stands still at `at` until moved with `advance`."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a FixedClock needs an aware datetime (e.g. tzinfo=UTC)")
        self.at = at.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


class ShiftedClock:
    """The system clock moved back by whole days, so that it stands on `day` now and runs on
    from there: the demo's clock when its data is older than today (trending and "today" are
    then as they were on the data's last day)."""

    def __init__(self, day: date, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self.shift = timedelta(days=(clock().date() - day).days)

    @property
    def as_of(self) -> date:
        return self().date()

    def __call__(self) -> datetime:
        return self._clock() - self.shift
