"""Each step of each daily run, with its counts or error: what `paperboy status` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from paperboy.store import tables

_runs = tables.runs


class Runs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, step: str, now: datetime) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(_runs.insert().values(
                step=step, started_at=now, status="running", counts={})).inserted_primary_key[0])

    def finish(self, run_id: int, now: datetime, *, counts: dict[str, Any],
               error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(_runs).where(_runs.c.id == run_id).values(
                finished_at=now, status="failed" if error else "ok", counts=counts,
                error=error))

    def interrupted(self, run_id: int, now: datetime) -> None:
        """The run stopped before its step finished (Ctrl-C, a server shutting down)."""
        with self.engine.begin() as conn:
            conn.execute(update(_runs).where(_runs.c.id == run_id).values(
                finished_at=now, status="interrupted", error="interrupted before it finished"))

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last run of each step."""
        newest = select(_runs.c.step, func.max(_runs.c.id).label("id")).group_by(
            _runs.c.step).subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(select(_runs).join(newest, newest.c.id == _runs.c.id))
            return {row.step: dict(row._mapping) for row in rows}

    def last_ok(self, step: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(_runs.c.started_at)).where(
                _runs.c.step == step, _runs.c.status == "ok")).scalar()
