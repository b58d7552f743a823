"""The `paperboy` command line: parses arguments, calls the service, renders the result."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from paperboy.console import RichProgress, err, out, summary_table
from paperboy.ingest.runner import StrictStop
from paperboy.service import Paperboy, demo_corpus
from paperboy.settings import Settings
from paperboy.store.db import StoreURLError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
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
    ctx.obj = Paperboy(settings)
    ctx.call_on_close(ctx.obj.close)


def _service(ctx: typer.Context) -> Paperboy:
    service: Paperboy = ctx.obj
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


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(
        help="Files (format told from content) or remote sources: arxiv:CATEGORY_OR_QUERY, "
             "oai:SET, hf:daily[:YYYY-MM-DD], rss:CATEGORY, s2:QUERY, s2:ids:ID,ID.")],
    strict: Annotated[bool, typer.Option(
        help="Stop at the first failure and leave the store exactly as before.")] = False,
    since: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], help="OAI-PMH: harvest changes from this day.")] = None,
    until: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="OAI-PMH: harvest changes until this day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Collect papers from files and services into the store; idempotent and resumable."""
    service = _service(ctx)
    progress = RichProgress()
    try:
        summaries = service.ingest(sources, progress=progress, strict=strict,
                                   since=since.date() if since else None,
                                   until=until.date() if until else None)
    except StrictStop as stop:
        progress.finish()
        err.print(f"[red]{stop}")
        raise typer.Exit(1) from None
    progress.finish()
    if as_json:
        out.print_json(json.dumps([s.as_dict() for s in summaries]))
    else:
        out.print(summary_table(summaries))
    for summary in summaries:
        for message in summary.errors:
            err.print(f"[red]failed:[/] {message}", highlight=False)
        if summary.failed > len(summary.errors):
            err.print(f"[red]... and {summary.failed - len(summary.errors)} more failures "
                      f"in {summary.source}")
    if any(s.failed for s in summaries):
        raise typer.Exit(1)


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as a JSON object.")] = False,
) -> None:
    """How many papers the store holds, and how many have vectors."""
    counts = _service(ctx).stats()
    if as_json:
        print(json.dumps(counts))
        return
    for name, value in counts.items():
        out.print(f"{name}: {value:,}")


@app.command()
def demo(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many papers to show.")] = 20,
) -> None:
    """Load the bundled demo corpus into a temporary home (or --home) and show its papers."""
    service: Paperboy = ctx.obj
    if ctx.parent is None or ctx.parent.params.get("home") is None:
        home = Path(tempfile.mkdtemp(prefix="paperboy-demo-"))
        service = Paperboy(Settings.load(home=home, database_url=""))
        ctx.call_on_close(service.close)
    summaries = service.ingest([str(demo_corpus())], progress=RichProgress())
    counts = service.stats()
    table = Table(title=f"Paperboy demo: {counts['papers']} papers "
                        f"(home: {service.settings.home})", show_lines=False)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("title")
    table.add_column("code", overflow="fold")
    for paper in service.papers(limit=limit):
        table.add_row(paper["id"], paper["title"], " ".join(paper["links"]["code"]))
    out.print(table)
    out.print(summary_table(summaries))
    out.print(f"Showing {min(limit, counts['papers'])} of {counts['papers']}. Next: "
              f"paperboy --home {service.settings.home} stats")

