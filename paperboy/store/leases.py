"""Leases: which process does a piece of shared work now, when replicas share one database.

A lease is a row (name, holder, expires_at). `acquire` takes it when it is free, expired or
already this holder's, atomically on SQLite and PostgreSQL alike: an UPDATE whose WHERE the
database checks again under the row's lock (PostgreSQL) or the database's write lock (SQLite),
else an INSERT that the primary key lets succeed once. A holder keeps a lease by renewing it
before it expires (`held` does so in a thread) and gives it up with `release`; one that dies
leaves it to expire. Times come from the caller's clock, so replicas' clocks must agree to well
within a lease's time to live (NTP does).

A holder names a process (`process_holder`): a lease is re-entrant within the process that
holds it, so one process must not give the same lease to two concurrent tasks.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperboy.clock import Clock, system_clock
from paperboy.store import tables

_leases = tables.leases
log = logging.getLogger("paperboy.leases")
_holder: tuple[int, str] | None = None  # (pid, holder id): a forked child gets its own


def process_holder() -> str:
    """This process's holder id, hostname:pid:random (random, as pids repeat across hosts
    and restarts)."""
    global _holder
    if _holder is None or _holder[0] != os.getpid():
        _holder = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _holder[1]


class Leases:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire(self, name: str, holder: str, ttl_s: float, *, now: datetime) -> bool:
        """Take the lease `name` for `ttl_s` seconds if it is free, expired or already ours."""
        expires = now + timedelta(seconds=ttl_s)
        with self.engine.begin() as conn:
            taken = conn.execute(update(_leases).where(
                _leases.c.name == name,
                or_(_leases.c.expires_at <= now, _leases.c.holder == holder)).values(
                holder=holder, expires_at=expires)).rowcount
        if taken == 1:
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(_leases.insert().values(name=name, holder=holder,
                                                     expires_at=expires))
        except IntegrityError:
            return False  # held by another (or just taken by another: only one insert wins)
        return True

    def renew(self, name: str, holder: str, ttl_s: float, *, now: datetime) -> bool:
        """Extend our lease; False when it is no longer ours (it expired and another took it)."""
        with self.engine.begin() as conn:
            return conn.execute(update(_leases).where(
                _leases.c.name == name, _leases.c.holder == holder).values(
                expires_at=now + timedelta(seconds=ttl_s))).rowcount == 1

    def release(self, name: str, holder: str, *, now: datetime) -> None:
        """Give up our lease (the row stays, expired, so the next acquire is an UPDATE)."""
        with self.engine.begin() as conn:
            conn.execute(update(_leases).where(
                _leases.c.name == name, _leases.c.holder == holder).values(expires_at=now))

    def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease now; None when nobody does."""
        with self.engine.connect() as conn:
            return conn.execute(select(_leases.c.holder).where(
                _leases.c.name == name, _leases.c.expires_at > now)).scalar()


@contextmanager
def held(leases: Leases, name: str, holder: str, ttl_s: float, *,
         clock: Clock = system_clock) -> Iterator[bool]:
    """Try to take the lease; yields whether we have it. While we do, a thread renews it every
    third of `ttl_s`, so work longer than `ttl_s` keeps it; it is released on leaving."""
    if not leases.acquire(name, holder, ttl_s, now=clock()):
        yield False
        return
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(ttl_s / 3):
            if not leases.renew(name, holder, ttl_s, now=clock()):
                # expired while we were stalled (longer than ttl_s) and another took it: the
                # work may now run twice; what it writes must tolerate that (digest claims do)
                log.warning("lost the lease %r while holding it (%s)", name, holder)
                return

    renewer = threading.Thread(target=keep, name=f"paperboy-lease-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join()
        leases.release(name, holder, now=clock())
