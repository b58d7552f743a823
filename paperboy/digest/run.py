"""`paperboy digest send`: compose, claim, send and record the digests that are due.

A reader is due when their local hour has come and they have no digest for their local day
(with `--date`, every active reader without a digest for that day). Each digest is claimed in the
store before it is sent and confirmed after (`Readers.claim_digest`), so a crash or a second
scheduler can cost a digest but never send one twice. A temporary SMTP failure leaves the claim
open to the next run; a permanent one is recorded, and `BOUNCE_LIMIT` of them in a row pause the
address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from threadpoolctl import threadpool_limits

from paperboy.digest.compose import Digest, Edition, Item, default_since
from paperboy.digest.render import message
from paperboy.digest.send import Delivery, Outgoing, Transport
from paperboy.progress import Progress
from paperboy.readers.accounts import Links
from paperboy.readers.mutes import Mutes
from paperboy.signals.trending import TrendingEntry
from paperboy.store import Store
from paperboy.store.library import DEFAULT, in_order

BOUNCE_LIMIT = 3


@dataclass
class DigestRun:
    due: int = 0
    sent: int = 0
    empty: int = 0  # nothing new: no email (unless digest_send_empty)
    already: int = 0  # claimed earlier, by this or another run
    temporary: int = 0  # will be retried by the next run
    failed: int = 0  # permanent failures
    paused: list[str] = field(default_factory=list)  # addresses paused for bouncing
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def local_time(reader: dict[str, Any], now: datetime) -> datetime:
    """`now` in the reader's time zone (UTC when theirs is unknown)."""
    try:
        return now.astimezone(ZoneInfo(reader["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(UTC)


def local_day(reader: dict[str, Any], now: datetime, day: date | None) -> str | None:
    """The reader's digest day if they are due now (or `day` when forced), else None."""
    if day is not None:
        return day.isoformat()
    local = local_time(reader, now)
    return local.date().isoformat() if local.hour >= reader["digest_hour"] else None


def next_day(store: Store, reader: dict[str, Any], now: datetime) -> str:
    """The day of the reader's next digest: their local today, or tomorrow once today's has
    gone out (or was found empty)."""
    today = local_time(reader, now).date()
    if store.readers.digest_days([(reader, today.isoformat())]):
        return (today + timedelta(days=1)).isoformat()
    return today.isoformat()


class Composer:
    """Composes digests of many readers against one `Edition`; what each reader has saved,
    dismissed, upvoted and was recently sent is loaded for all of them at once."""

    def __init__(self, store: Store, *, model: str | None, trending: list[TrendingEntry],
                 readers: list[dict[str, Any]], now: datetime) -> None:
        self.store = store
        self.now = now
        since = min((reader["last_digest_at"] or default_since(now) for reader in readers),
                    default=default_since(now))
        self.edition = Edition(store, since=since, model=model, trending=trending)
        self.follows: dict[int, list[dict[str, Any]]] = {}
        for follow in store.readers.follows([r["id"] for r in readers]):
            self.follows.setdefault(follow["reader_id"], []).append(follow)
        muted: dict[int, list[dict[str, Any]]] = {}
        for mute in store.readers.mutes([r["id"] for r in readers]):
            muted.setdefault(mute["reader_id"], []).append(mute)
        self.mutes = {reader_id: Mutes.of(rows) for reader_id, rows in muted.items()}
        self.papers = store.readers.papers_of([r["id"] for r in readers], now=now)
        self.collections = store.library.of_readers([r["id"] for r in readers])
        known = {pid for mine in self.papers.values()
                 for pid in mine["library"] + mine["voted"] + mine["dismissed"]}
        self.vectors = store.embeddings.vectors_of(list(known), model) if model and known \
            else {}
        kept = store.papers_by_ids(
            [pid for mine in self.papers.values() for pid in mine["library"] + mine["voted"]])
        self.titles = {pid: row["title"] for pid, row in kept.items()}
        # what changed in the readers' saved papers since the oldest of their last digests
        self.kept = kept
        self.updates: dict[str, list[dict[str, Any]]] = {}
        for change in store.updates.of([pid for mine in self.papers.values()
                                        for pid in mine["library"]], since=since):
            self.updates.setdefault(change["paper_id"], []).append(change)

    def compose(self, reader: dict[str, Any], day: str) -> Digest:
        mine = self.papers.get(reader["id"]) or {"library": [], "dismissed": [], "voted": [],
                                                  "recent": []}
        digest = self.edition.compose(
            reader, self.follows.get(reader["id"], []),
            since=reader["last_digest_at"] or default_since(self.now), day=day,
            collections=self._collections(reader["id"], mine["voted"]),
            dismissed=self._vectors(mine["dismissed"]), sent_before=set(mine["recent"]),
            titles=self.titles, mutes=self.mutes.get(reader["id"]))
        since = reader["last_digest_at"] or default_since(self.now)
        updated = []
        for pid in mine["library"]:
            news = [c for c in self.updates.get(pid, ()) if c["at"] > since]
            if news and pid in self.kept:
                why = "; ".join(f"{c['detail']} ({c['at']:%Y-%m-%d})" for c in news)
                updated.append(Item(self.kept[pid], "updates", why))
        digest.items[:0] = updated
        return digest

    def _collections(self, reader_id: int, voted: list[str]) -> dict[str, dict[str, np.ndarray]]:
        """Each collection's vectors, the default one first and with the upvoted papers."""
        found = self.collections.get(reader_id, {})
        return {name: self._vectors(found.get(name, []) + (voted if name == DEFAULT else []))
                for name in in_order(found)}

    def _vectors(self, paper_ids: list[str]) -> dict[str, np.ndarray]:
        return {pid: self.vectors[pid] for pid in paper_ids if pid in self.vectors}


def send_digests(store: Store, *, composer_for: Callable[[list[dict[str, Any]]], Composer],
                 sender: Transport | None, links: Links, mail_from: str, base_url: str,
                 progress: Progress, now: datetime, day: date | None = None,
                 send_empty: bool = False) -> DigestRun:
    """Send every due digest; see the module docstring."""
    run = DigestRun()
    due = [(reader, d) for reader in store.readers.all(status="active")
           if (d := local_day(reader, now, day)) is not None]
    done_days = store.readers.digest_days(due) if due else set()
    due = [(r, d) for r, d in due if (r["id"], d) not in done_days]
    run.already = len(done_days)
    run.due = len(due)
    if not due:
        return run
    if sender is None:
        run.errors.append("no SMTP server is configured (PAPERBOY_SMTP_URL): nothing was sent")
        return run
    composer = composer_for([r for r, _ in due])
    outgoing: list[Outgoing] = []
    claimed: dict[str, tuple[dict[str, Any], str]] = {}
    progress.start("composing digests", total=len(due), unit="readers")
    with single_threaded_blas():
        _compose_all(store, due, composer, claimed, outgoing, run, progress, now=now,
                     links=links, mail_from=mail_from, base_url=base_url,
                     send_empty=send_empty)
    progress.finish()

    def record(delivery: Delivery) -> None:
        reader, reader_day = claimed[delivery.key]
        readers = store.readers
        if delivery.status == "sent":
            readers.finish_digest(reader["id"], reader_day, "sent", now, last_digest_at=now)
            readers.update(reader["id"], bounces=0)
            run.sent += 1
        elif delivery.status == "temporary":
            readers.finish_digest(reader["id"], reader_day, "retry", now, error=delivery.error)
            run.temporary += 1
        else:
            readers.finish_digest(reader["id"], reader_day, "failed", now, error=delivery.error)
            bounces = int(reader["bounces"] or 0) + 1
            paused = bounces >= BOUNCE_LIMIT
            readers.update(reader["id"], bounces=bounces,
                           **({"status": "bounced"} if paused else {}))
            run.failed += 1
            if paused:
                run.paused.append(reader["email"])
        if delivery.status != "sent" and len(run.errors) < 50:
            run.errors.append(f"{delivery.to}: {delivery.error}")

    if outgoing:
        progress.start("sending digests", total=len(outgoing), unit="emails")
        sent = 0

        def on_result(delivery: Delivery) -> None:
            nonlocal sent
            record(delivery)
            sent += 1
            progress.update(sent)

        sender.send(outgoing, on_result=on_result)
        progress.finish()
    return run


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Numpy's small per-reader products run fastest on one thread: more only spin (3-5x
    slower composing on 2 cores, bench/digest.py)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _compose_all(store: Store, due: list[tuple[dict[str, Any], str]], composer: Composer,
                 claimed: dict[str, tuple[dict[str, Any], str]], outgoing: list[Outgoing],
                 run: DigestRun, progress: Progress, *, now: datetime, links: Links,
                 mail_from: str, base_url: str, send_empty: bool) -> None:
    """Compose each due digest and claim it (or record it as empty); queue the emails."""
    for n, (reader, reader_day) in enumerate(due, start=1):
        digest = composer.compose(reader, reader_day)
        ids = [item.paper["id"] for item in digest.items]
        if digest.new == 0 and not send_empty:
            if store.readers.claim_digest(reader["id"], reader_day, ids, now):
                store.readers.finish_digest(reader["id"], reader_day, "empty", now,
                                            last_digest_at=now)
                run.empty += 1
            else:
                run.already += 1
        elif store.readers.claim_digest(reader["id"], reader_day, ids, now):
            key = f"{reader['id']}/{reader_day}"
            claimed[key] = (reader, reader_day)
            outgoing.append(Outgoing(key=key, to=reader["email"], message=message(
                digest, sender=mail_from, base_url=base_url,
                unsubscribe_url=links.url("unsubscribe", reader["id"]), now=now)))
        else:
            run.already += 1
        progress.update(n)
