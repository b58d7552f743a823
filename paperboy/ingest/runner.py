"""The ingest run: every source read into chunks, every chunk merged into the store.

Without `strict`, each chunk commits on its own (with its resume state), a malformed record is
counted and reported with its place, and the run goes on. With `strict`, the whole run is one
transaction and the first failure rolls it back, leaving the store exactly as it was.

`on_commit` sees what each chunk stored right after it commits (so derived indexes can follow
the run as it goes); in strict mode nothing commits before the end, and it is not called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection

from paperboy.clock import Clock, system_clock
from paperboy.ingest.chunks import Chunk
from paperboy.ingest.files import FileSource
from paperboy.ingest.remote import RemoteSource, is_remote, not_a_source_kind
from paperboy.models import PaperRecord, RecordError, SourceError
from paperboy.progress import Progress
from paperboy.settings import Settings
from paperboy.store import Store, Written

MAX_REPORTED_ERRORS = 50


@dataclass
class SourceSummary:
    source: str
    format: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class StrictStop(Exception):
    """`--strict` met a failure; the run's transaction was rolled back."""

    def __init__(self, message: str, summaries: list[SourceSummary]) -> None:
        super().__init__(message)
        self.summaries = summaries


def ingest(store: Store, sources: list[str], *, settings: Settings, progress: Progress,
           strict: bool = False, since: date | None = None, until: date | None = None,
           clock: Clock = system_clock,
           on_commit: Callable[[Written], None] | None = None,
           ) -> list[SourceSummary]:
    """Ingest each source in turn; one summary per source, in order."""
    run = _Run(store, settings, progress, strict, clock, since, until,
               None if strict else on_commit)
    if not strict:
        return run.all(sources, store.transaction)
    with store.transaction() as connection:
        return run.all(sources, lambda: nullcontext(connection))


@dataclass
class _Run:
    store: Store
    settings: Settings
    progress: Progress
    strict: bool
    clock: Callable[[], datetime]
    since: date | None
    until: date | None
    on_commit: Callable[[Written], None] | None
    summaries: list[SourceSummary] = field(default_factory=list)

    def all(self, sources: list[str],
            transaction: Callable[[], AbstractContextManager[Connection]]) -> list[SourceSummary]:
        for source in sources:
            summary = SourceSummary(source)
            self.summaries.append(summary)
            try:
                summary.format, chunks = self._open(source)
                for chunk in chunks:
                    with transaction() as connection:
                        written = self._write(connection, chunk, summary)
                    if written is not None and self.on_commit is not None:
                        self.on_commit(written)
            except SourceError as error:
                summary.fail(str(error) if str(error).startswith(source) else
                             f"{source}: {error}")
                self._stop_if_strict(summary)
        return self.summaries

    def _open(self, source: str) -> tuple[str, Iterator[Chunk]]:
        if is_remote(source):
            remote = RemoteSource(source, store=self.store, settings=self.settings,
                                  since=self.since, until=self.until)
            return remote.format, remote.chunks(self.progress)
        not_a_source_kind(source)
        file = FileSource(Path(source), batch_size=self.settings.ingest_batch_size,
                          checkpoint=self.store.state)
        return file.format, file.chunks(self.progress)

    def _write(self, connection: Connection, chunk: Chunk,
               summary: SourceSummary) -> Written | None:
        records: list[PaperRecord] = []
        for item in chunk.items:
            if isinstance(item, RecordError):
                summary.fail(f"{summary.source}: {item}")
                self._stop_if_strict(summary)
            else:
                records.append(item)
        now = self.clock()
        written = self.store.write(connection, records, now) if records else None
        for outcome in written.outcomes if written else []:
            setattr(summary, outcome, getattr(summary, outcome) + 1)
        for key, value in chunk.state:
            if value is None:
                self.store.clear_state(connection, key)
            else:
                self.store.set_state(connection, key, value, now)
        if chunk.done is not None:
            self.progress.update(chunk.done)
        return written

    def _stop_if_strict(self, summary: SourceSummary) -> None:
        if self.strict:
            raise StrictStop(f"--strict: stopped at the first failure ({summary.errors[-1]}); "
                             "nothing from this run was stored", self.summaries)
