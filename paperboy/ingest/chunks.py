"""What every input (a file, a remote service) is read into: chunks committed one at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paperboy.models import PaperRecord, RecordError


@dataclass(slots=True)
class Chunk:
    """Records to store together with the resumable state that says they are stored.

    `state` holds (key, value) pairs written in the same transaction as the records (a value
    of None clears the key), so a crash leaves either both or neither. `done` is how far the
    input has been read, in the unit of its progress bar.
    """

    items: list[PaperRecord | RecordError]
    state: list[tuple[str, Any]] = field(default_factory=list)
    done: float | None = None
