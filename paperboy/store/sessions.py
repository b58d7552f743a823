"""Readers' signed-in sessions, kept in the store so that signing out ends them.

A session is a random token in a signed cookie; the store keeps only its SHA-256, the reader it
signs in and when it began. Signing out deletes it, "sign out everywhere" deletes all of the
reader's, and a session older than its lifetime is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from paperboy.store import tables

_sessions = tables.sessions


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ReaderSessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, reader_id: int, now: datetime) -> str:
        """A new session's token (the cookie carries it; the store keeps its hash)."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(insert(_sessions).values(key=_key(token), reader_id=reader_id,
                                                  started_at=now))
        return token

    def reader_of(self, token: str, now: datetime, *, lifetime: timedelta) -> int | None:
        """The reader the session signs in; None when it was ended or is too old."""
        with self.engine.connect() as conn:
            return conn.execute(select(_sessions.c.reader_id).where(
                _sessions.c.key == _key(token),
                _sessions.c.started_at > now - lifetime)).scalar()

    def end(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_sessions).where(_sessions.c.key == _key(token)))

    def end_all(self, reader_id: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(_sessions).where(
                _sessions.c.reader_id == reader_id)).rowcount
