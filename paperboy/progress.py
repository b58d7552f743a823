"""The seam between long-running work and whoever watches it (a rich progress bar, or nobody)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, description: str, *, total: float | None, unit: str) -> None:
        """Begin a task; `total` None means the size is unknown."""

    def update(self, completed: float) -> None:
        """Set how much of the current task is done, in its unit."""

    def note(self, message: str) -> None:
        """Say something the watcher should see (a wait, a resume)."""

    def finish(self) -> None:
        """End the current task."""


class Silent:
    """Progress nobody watches: for tests and library use."""

    def start(self, description: str, *, total: float | None, unit: str) -> None:
        pass

    def update(self, completed: float) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def finish(self) -> None:
        pass
