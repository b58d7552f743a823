"""The `paperboy` command line: parses arguments, calls the service, renders the result.

The app, its global options and the options commands share; the commands live by group in
`papers.py`, `serving.py` and `readers.py`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from paperboy.clock import system_clock
from paperboy.console import (
    RichProgress,
    err,
)
from paperboy.index.milvus import MilvusUnavailable
from paperboy.models import Filters
from paperboy.service import Paperboy
from paperboy.settings import Settings
from paperboy.store.db import StoreURLError


def hoist_home(args: list[str]) -> list[str]:
    """`args` with every `--home DIR` moved before the subcommand, where Click reads it, so
    `paperboy search --home DIR q` works as `paperboy --home DIR search q` (not after `--`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--home" and i + 1 < len(args):
            front += args[i:i + 2]
            i += 2
            continue
        (front if arg.startswith("--home=") else rest).append(arg)
        i += 1
    return front + rest


class _Commands(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer vendors Click
        return super().parse_args(ctx, hoist_home(args))

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a backend that cannot be used as configured (Milvus without
        pymilvus, or unreachable) is one line and exit 2 from any command, not a traceback."""
        try:
            return super().invoke(ctx)
        except MilvusUnavailable as error:
            err.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
            raise typer.Exit(2) from None


app = typer.Typer(cls=_Commands, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="Paperboy: a self-hosted research-paper radar.")


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Data folder (default: $PAPERBOY_HOME or ~/.paperboy).",
        file_okay=False)] = None,
) -> None:
    try:
        settings = Settings.load(home=home)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    # A program that embeds the CLI (the tests) may hand it a clock: invoke(app, args, obj=clock)
    clock = ctx.obj if callable(ctx.obj) else system_clock
    ctx.obj = Paperboy(settings, progress=RichProgress(), clock=clock)
    ctx.call_on_close(ctx.obj.close)


def open_service(ctx: typer.Context, *, reads: bool = False) -> Paperboy:
    """The service with its store open; `reads`: the command only reads, so a home that does
    not exist (a mistyped --home) is refused rather than created empty."""
    service: Paperboy = ctx.obj
    sqlite = service.settings.sqlite_file
    if reads and sqlite is not None and not sqlite.exists():
        err.print(f"[red]error:[/] no Paperboy store in {sqlite.parent}: check --home (or "
                  "$PAPERBOY_HOME), or create one with `paperboy ingest FILE`", highlight=False)
        raise typer.Exit(2)
    try:
        service.store  # noqa: B018 - open (and migrate) the store now, to report a bad URL early
    except StoreURLError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    except OperationalError as error:
        err.print(f"[red]error:[/] cannot open the store at {service.settings.store_url}: "
                  f"{error.orig}")
        raise typer.Exit(2) from None
    return service


def search_filters(since: datetime | None, until: datetime | None, category: str | None,
                   has_code: bool | None) -> Filters:
    return Filters(date_from=since.date() if since else None,
                   date_to=until.date() if until else None, category=category, has_code=has_code)


FromOption = Annotated[datetime | None, typer.Option(
    "--from", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
    help="Only papers first published on or after this day.")]
ToOption = Annotated[datetime | None, typer.Option(
    "--to", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
    help="Only papers first published on or before this day.")]
CategoryOption = Annotated[str | None, typer.Option(help="Only papers in this category.")]
CodeOption = Annotated[bool | None, typer.Option(
    "--has-code/--no-code", help="Only papers with (or without) a code link.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="How many results.")]
