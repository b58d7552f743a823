"""The daily chain, in order: harvest the configured sources since the last harvest, embed the
new papers, refresh the GitHub stars, send the digests that are due (embedding first: search
needs it, and it must not wait behind thousands of star checks). Each step's outcome (counts or
error) is recorded, and a failed step does not stop the later ones: digests still go out with
the papers already stored.

`paperboy daily` runs the chain once (for cron); `paperboy serve` calls `tick` at start and
then every few minutes, which runs the chain once a day (from `DAILY_HOUR_UTC` on, or at once
when nothing was ever harvested) and sends due digests on every tick (readers have their own
hours).

Replicas (many `serve` processes, or cron on many hosts, on one database) share the work through
two leases in the store (`store/leases.py`): `daily` for harvest, embedding and stars, `digest`
for sending. Whoever holds one does that work; the others skip it, and skip the digests too
while another holds `daily`, so digests go out after the day's papers are in. Under the lease,
`tick` checks again whether today's chain has run, so a replica that waited does not run it a
second time. The lease saves doing work twice; that a reader never gets two digests a day is
the store's per-reader claim (`Readers.claim_digest`), which holds even without it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from paperboy.service import Paperboy
from paperboy.store.leases import held, process_holder

DAILY_HOUR_UTC = 5  # arXiv announces at 00:00 UTC; a few hours later everything is in
STAR_CHECKS_PER_DAY = 1000  # repositories; the least recently checked go first
# A lease is renewed every third of this while its work runs; a crashed holder's lapses after it.
LEASE_TTL_S = 300.0
log = logging.getLogger("paperboy.schedule")


@dataclass
class StepOutcome:
    step: str
    ok: bool
    counts: dict[str, Any]
    error: str | None = None


def run_daily(service: Paperboy, *, day: date | None = None,
              holder: str | None = None) -> list[StepOutcome]:
    """Run every step once, recording each; see the module docstring. When another process
    holds the `daily` (or `digest`) lease, that part is skipped: a `skipped` outcome says who
    holds it. Times come from the service's clock."""
    holder = holder or process_holder()
    chain = _leased(service, "daily", holder, lambda: _chain(service))
    if chain is None:
        return [_skipped(service, "daily")]
    digest = _leased(service, "digest", holder,
                     lambda: [_step(service, "digest", lambda s: _digest(s, day))])
    return chain + (digest if digest is not None else [_skipped(service, "digest")])


def tick(service: Paperboy, *, holder: str | None = None) -> list[StepOutcome]:
    """What `serve` does every few minutes: the chain once a day, and the due digests; nothing
    while another replica runs the chain (see the module docstring)."""
    now = service.clock()
    holder = holder or process_holder()
    outcomes: list[StepOutcome] = []
    if _daily_due(service, now):
        # checked again under the lease: another replica may have run it since our check
        chain = _leased(service, "daily", holder,
                        lambda: _chain(service) if _daily_due(service, service.clock()) else [])
        if chain is None:
            return []
        outcomes = chain
    elif (other := service.store.leases.holder("daily", now=now)) not in (None, holder):
        log.debug("%s is running the daily chain; the digests wait for it", other)
        return []
    digest = _leased(service, "digest", holder,
                     lambda: [_step(service, "digest", lambda s: _digest(s, None))])
    service.catch_up()  # papers another replica stored become searchable by words here too
    return outcomes + (digest or [])


def start_scheduler(service: Paperboy, stop: threading.Event) -> threading.Thread:
    """A daemon thread calling `tick` at once and then every `schedule_interval_s` until `stop`
    is set; errors are logged, never fatal."""

    def loop() -> None:
        while not stop.is_set():
            try:
                tick(service)
            except Exception:  # noqa: BLE001 - the server must outlive a bad tick
                log.exception("scheduled run failed")
            stop.wait(service.settings.schedule_interval_s)

    thread = threading.Thread(target=loop, name="paperboy-schedule", daemon=True)
    thread.start()
    return thread


def _step(service: Paperboy, name: str,
          action: Callable[[Paperboy], dict[str, Any]]) -> StepOutcome:
    now = service.clock
    run_id = service.store.runs.start(name, now())
    try:
        counts = action(service)
    except Exception as error:  # noqa: BLE001 - recorded and shown by `paperboy status`
        message = f"{type(error).__name__}: {error}"
        service.store.runs.finish(run_id, now(), counts={}, error=message)
        log.warning("daily step %s failed: %s", name, message)
        return StepOutcome(name, False, {}, message)
    except BaseException:  # Ctrl-C, a stopping server: say so rather than "running" forever
        service.store.runs.interrupted(run_id, now())
        raise
    failures = "; ".join(counts.pop("errors", [])[:3]) or None
    service.store.runs.finish(run_id, now(), counts=counts, error=failures)
    return StepOutcome(name, failures is None, counts, failures)


def _chain(service: Paperboy) -> list[StepOutcome]:
    return [_step(service, name, action)
            for name, action in (("harvest", _harvest), ("embed", _embed), ("signals", _signals))]


def _daily_due(service: Paperboy, now: datetime) -> bool:
    last = service.store.runs.latest().get("harvest")
    return last is None or (now.hour >= DAILY_HOUR_UTC
                            and last["started_at"].date() < now.date())


def _leased(service: Paperboy, name: str, holder: str,
            work: Callable[[], list[StepOutcome]]) -> list[StepOutcome] | None:
    """The outcomes of `work` done under the lease `name`; None when another holds it."""
    with held(service.store.leases, name, holder, LEASE_TTL_S, clock=service.clock) as ours:
        if not ours:
            log.debug("lease %r is held by %s: skipped", name,
                      service.store.leases.holder(name, now=service.clock()))
            return None
        return work()


def _skipped(service: Paperboy, name: str) -> StepOutcome:
    other = service.store.leases.holder(name, now=service.clock())
    return StepOutcome(name, True, {"skipped": 1, "held_by": other})


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
    now = service.clock()
    runs = {step: {"started_at": run["started_at"].isoformat(),
                   "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
                   "status": _status(service, step, run["status"], now),
                   "counts": run["counts"], "error": run["error"]}
            for step, run in service.store.runs.latest().items()}
    return {**service.stats(), "readers": by_status, "runs": runs}


def _status(service: Paperboy, step: str, recorded: str, now: datetime) -> str:
    """A step recorded as running whose lease nobody holds was killed (kill -9, a crash)."""
    lease = "digest" if step == "digest" else "daily"
    if recorded == "running" and service.store.leases.holder(lease, now=now) is None:
        return "interrupted"
    return recorded
