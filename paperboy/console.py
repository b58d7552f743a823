"""Terminal output for the command line: rich progress bars (with rate and ETA) and tables."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table
from rich.text import Text

from paperboy.index.hybrid import SearchResult
from paperboy.ingest.remote import is_remote
from paperboy.ingest.runner import SourceSummary
from paperboy.signals.trending import TrendingEntry

err = Console(stderr=True)
out = Console()


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else f"? {self.unit}/s",
                    style="progress.data.speed")


class RichProgress:
    """The `Progress` seam drawn as rich bars on stderr: done/total, rate and time left."""

    def __init__(self, console: Console = err) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, description: str, *, total: float | None, unit: str) -> None:
        self.finish()
        amount: tuple[ProgressColumn, ...]
        if unit == "bytes":
            amount = (DownloadColumn(), TransferSpeedColumn())
        else:
            amount = (MofNCompleteColumn(), _Rate(unit))
        # one line whatever the terminal's width: a narrow one drops the bar and elapsed time;
        # without a total there is nothing to fill, so a spinner says it moves
        narrow = self.console.width < 100
        shape: tuple[ProgressColumn, ...] = (SpinnerColumn(),) if total is None else \
            (TaskProgressColumn(),) if narrow else (BarColumn(bar_width=24), TaskProgressColumn())
        timing: tuple[ProgressColumn, ...] = () if total is None else \
            (TextColumn("ETA"), TimeRemainingColumn()) if narrow else \
            (TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        room = max(12, self.console.width - (50 if narrow else 80))  # what the numbers leave
        self._bar = Progress(TextColumn("[bold]{task.description}", table_column=Column(
                                 no_wrap=True, overflow="ellipsis", max_width=room)),
                             *shape, *amount, *timing, console=self.console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def update(self, completed: float) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=completed)

    def note(self, message: str) -> None:
        (self._bar.console if self._bar else self.console).print(f"[yellow]{message}")

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None


def summary_table(summaries: list[SourceSummary]) -> Table:
    table = Table(title="Ingest summary")
    table.add_column("source", overflow="fold")
    table.add_column("format")
    for name in ("added", "updated", "unchanged", "failed"):
        table.add_column(name, justify="right")
    for s in summaries:
        failed = f"[red]{s.failed}" if s.failed else "0"
        table.add_row(_short(s.source), s.format or "?", str(s.added), str(s.updated),
                      str(s.unchanged), failed)
    return table


def _short(source: str) -> str:
    """A file source by its name (the full path is in --json); remote sources as given."""
    return Path(source).name if not is_remote(source) else source


def hits_table(result: SearchResult) -> Table:
    total = f"; {result.total:,} papers hold its words" if result.total is not None else ""
    order = ", newest first" if result.sort == "newest" else ""
    table = Table(title=f"{len(result.hits)} results for {result.query!r} "
                        f"({result.mode}{order}{total})")
    table.add_column("#", justify="right", style="dim")
    table.add_column("paper")
    table.add_column("why", style="dim")
    for n, hit in enumerate(result.hits, start=1):
        why = []
        if hit.match:
            why.append(f"{hit.match} match")
        if hit.lexical_rank:
            why.append(f"words #{hit.lexical_rank}: {'; '.join(hit.matched_terms) or '-'}")
        if hit.semantic_rank:
            why.append(f"meaning #{hit.semantic_rank} (cos {hit.similarity:.2f})")
        table.add_row(str(n), f"[bold]{hit.title}[/]\n[dim]{hit.id}", "\n".join(why))
    return table


def trending_table(entries: list[TrendingEntry], window: str) -> Table:
    table = Table(title=f"Trending this {window}" if entries else
                  f"Nothing trending this {window}: no upvotes or stars in the window")
    table.add_column("#", justify="right", style="dim")
    table.add_column("paper")
    table.add_column("score", justify="right")
    table.add_column("why", style="dim")
    for entry in entries:
        table.add_row(str(entry.rank), f"[bold]{entry.title}[/]\n[dim]{entry.id}",
                      f"{entry.score:.2f}", entry.explanation)
    return table
