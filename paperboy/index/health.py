"""What became of each derived index: checked and fine, rebuilt when opened, or being rebuilt
now from the store because damage showed while serving. `/healthz` reports it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["IndexHealth", "IndexState"]

State = Literal["ok", "rebuilt", "rebuilding", "damaged"]
log = logging.getLogger("paperboy.index")


@dataclass(frozen=True, slots=True)
class IndexState:
    state: State
    reason: str | None = None  # why it was rebuilt (or is damaged)
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.reason:
            out["reason"] = self.reason
        if self.since:
            out["since"] = self.since.isoformat()
        return out


class IndexHealth:
    """The state of each named index ("word", "vector"), safe to read from any thread."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._states: dict[str, IndexState] = {}
        self._lock = threading.Lock()

    def opened(self, name: str, rebuilt_reason: str | None) -> None:
        """The index was opened; `rebuilt_reason`: why it was started again empty (and
        refilled from the store), None when its files were reused."""
        if rebuilt_reason is None:
            state = IndexState("ok")
        else:
            state = IndexState("rebuilt", rebuilt_reason, self._clock())
            log.warning("the %s index was rebuilt from the store: %s", name, rebuilt_reason)
        with self._lock:
            self._states[name] = state

    def rebuilding(self, name: str) -> bool:
        with self._lock:
            return self._states.get(name, IndexState("ok")).state == "rebuilding"

    def rebuild(self, name: str, reason: str, work: Callable[[], None]) -> bool:
        """Run `work` (start the index again and refill it from the store) in a thread, unless
        a rebuild of it already runs; returns whether this call started one."""
        with self._lock:
            if self._states.get(name, IndexState("ok")).state == "rebuilding":
                return False
            self._states[name] = IndexState("rebuilding", reason, self._clock())
        log.error("%s; rebuilding the %s index from the store", reason, name)

        def run() -> None:
            try:
                work()
                state = IndexState("rebuilt", reason, self._clock())
                log.warning("the %s index is rebuilt from the store", name)
            except Exception as exc:  # the thread's last word: say it, keep the state honest
                state = IndexState("damaged", f"{reason}; rebuilding failed: {exc}", self._clock())
                log.error("rebuilding the %s index failed: %s", name, exc)
            with self._lock:
                self._states[name] = state

        threading.Thread(target=run, name=f"paperboy-rebuild-{name}", daemon=True).start()
        return True

    def report(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: state.as_dict() for name, state in sorted(self._states.items())}

    @property
    def status(self) -> str:
        """"damaged" if an index is, else "rebuilding" if one is being rebuilt, else "ok" (an
        index rebuilt when it was opened is sound again)."""
        with self._lock:
            states = {s.state for s in self._states.values()}
        return next((s for s in ("damaged", "rebuilding") if s in states), "ok")
