"""The daily chain, in order: harvest the configured sources since the last harvest, refresh the
GitHub stars, embed the new papers, send the digests that are due. Each step's outcome (counts or
error) is recorded, and a failed step does not stop the later ones: digests still go out with
the papers already stored.

`paperboy daily` runs the chain once (for cron); `paperboy serve` calls `tick` every few
minutes, which runs the chain once a day, from `DAILY_HOUR_UTC` on, and sends due digests on
every tick (readers have their own hours).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from paperboy.service import Paperboy

DAILY_HOUR_UTC = 5  # arXiv announces at 00:00 UTC; a few hours later everything is in
STAR_CHECKS_PER_DAY = 1000  # repositories; the least recently checked go first
log = logging.getLogger("paperboy.schedule")


@dataclass
class StepOutcome:
    step: str
    ok: bool
    counts: dict[str, Any]
    error: str | None = None


def run_daily(service: Paperboy, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
              day: date | None = None) -> list[StepOutcome]:
    """Run every step once, recording each; see the module docstring."""
    return [_step(service, name, action, now)
            for name, action in (("harvest", _harvest), ("signals", _signals),
                                 ("embed", _embed), ("digest", lambda s: _digest(s, day)))]


def tick(service: Paperboy, *, now: datetime | None = None) -> list[StepOutcome]:
    """What `serve` does every few minutes: the chain once a day, else only due digests."""
    now = now or datetime.now(UTC)
    last = service.store.runs.latest().get("harvest")
    if now.hour >= DAILY_HOUR_UTC and (last is None or last["started_at"].date() < now.date()):
        return run_daily(service)
    return [_step(service, "digest", lambda s: _digest(s, None), lambda: datetime.now(UTC))]


def start_scheduler(service: Paperboy, stop: threading.Event) -> threading.Thread:
    """A daemon thread calling `tick` until `stop` is set; errors are logged, never fatal."""

    def loop() -> None:
        while not stop.wait(service.settings.schedule_interval_s):
            try:
                tick(service)
            except Exception:  # noqa: BLE001 - the server must outlive a bad tick
                log.exception("scheduled run failed")

    thread = threading.Thread(target=loop, name="paperboy-schedule", daemon=True)
    thread.start()
    return thread


def _step(service: Paperboy, name: str, action: Callable[[Paperboy], dict[str, Any]],
          now: Callable[[], datetime]) -> StepOutcome:
    run_id = service.store.runs.start(name, now())
    try:
        counts = action(service)
    except Exception as error:  # noqa: BLE001 - recorded and shown by `paperboy status`
        message = f"{type(error).__name__}: {error}"
        service.store.runs.finish(run_id, now(), counts={}, error=message)
        log.warning("daily step %s failed: %s", name, message)
        return StepOutcome(name, False, {}, message)
    error = "; ".join(counts.pop("errors", [])[:3]) or None
    service.store.runs.finish(run_id, now(), counts=counts, error=error)
    return StepOutcome(name, error is None, counts, error)


def _harvest(service: Paperboy) -> dict[str, Any]:
    sources = [s.strip() for s in service.settings.sources.split(",") if s.strip()]
    last = service.store.runs.last_ok("harvest")
    summaries = service.ingest(sources, since=last.date() if last else None)
    counts: dict[str, Any] = {key: sum(getattr(s, key) for s in summaries)
                              for key in ("added", "updated", "unchanged", "failed")}
    counts["errors"] = [e for s in summaries for e in s.errors]
    return counts


def _signals(service: Paperboy) -> dict[str, Any]:
    summary = service.refresh_stars(limit=STAR_CHECKS_PER_DAY, max_wait_s=120.0)
    return summary.as_dict()


def _embed(service: Paperboy) -> dict[str, Any]:
    summary = service.embed()
    return {"embedded": summary.embedded, "remaining": summary.remaining}


def _digest(service: Paperboy, day: date | None) -> dict[str, Any]:
    return service.send_digests(day=day).as_dict()


def status(service: Paperboy) -> dict[str, Any]:
    """The last run of each step, and what the store holds."""
    readers = service.store.readers.all()
    by_status: dict[str, int] = {}
    for reader in readers:
        by_status[reader["status"]] = by_status.get(reader["status"], 0) + 1
    runs = {step: {"started_at": run["started_at"].isoformat(),
                   "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
                   "status": run["status"], "counts": run["counts"], "error": run["error"]}
            for step, run in service.store.runs.latest().items()}
    return {**service.stats(), "readers": by_status, "runs": runs}
