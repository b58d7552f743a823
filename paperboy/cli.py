"""The `paperboy` command line: parses arguments, calls the service, renders the result."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from paperboy.console import (
    RichProgress,
    err,
    hits_table,
    out,
    summary_table,
    trending_table,
)
from paperboy.embed import EmbedderUnavailable
from paperboy.index.hybrid import MODES, PaperNotFound
from paperboy.ingest.runner import StrictStop
from paperboy.models import Filters
from paperboy.service import Paperboy, demo_sources
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
    ctx.obj = Paperboy(settings, progress=RichProgress())
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
    try:
        summaries = service.ingest(sources, strict=strict,
                                   since=since.date() if since else None,
                                   until=until.date() if until else None)
    except StrictStop as stop:
        service.progress.finish()
        err.print(f"[red]{stop}")
        raise typer.Exit(1) from None
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


def _filters(since: datetime | None, until: datetime | None, category: str | None,
             has_code: bool | None) -> Filters:
    return Filters(date_from=since.date() if since else None,
                   date_to=until.date() if until else None, category=category, has_code=has_code)


FromOption = Annotated[datetime | None, typer.Option(
    "--from", formats=["%Y-%m-%d"], help="Only papers first published on or after this day.")]
ToOption = Annotated[datetime | None, typer.Option(
    "--to", formats=["%Y-%m-%d"], help="Only papers first published on or before this day.")]
CategoryOption = Annotated[str | None, typer.Option(help="Only papers in this category.")]
CodeOption = Annotated[bool | None, typer.Option(
    "--has-code/--no-code", help="Only papers with (or without) a code link.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LimitOption = Annotated[int, typer.Option(min=1, max=1000, help="How many results.")]


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(
        help="Words, a \"quoted phrase\", an arXiv id or URL, or a DOI. '-' reads one query "
             "per line from stdin and prints one result line per query.")],
    limit: LimitOption = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many results.")] = 0,
    mode: Annotated[str, typer.Option(
        help="hybrid (words and meaning), lexical (words) or semantic (meaning).")] = "hybrid",
    since: FromOption = None, until: ToOption = None, category: CategoryOption = None,
    has_code: CodeOption = None, as_json: JsonOption = False,
) -> None:
    """Search papers by words and by meaning; each hit says why it was found."""
    if mode not in MODES:
        raise typer.BadParameter(f"use one of {', '.join(MODES)}", param_hint="--mode")
    service = _service(ctx)
    filters = _filters(since, until, category, has_code)
    queries = (line.rstrip("\n") for line in sys.stdin) if query == "-" else iter([query])
    for text in queries:
        result = service.search(text, limit=limit, offset=offset, mode=mode,  # type: ignore[arg-type]
                                filters=filters)
        for notice in result.notices:
            err.print(f"[yellow]{notice}", highlight=False)
        if as_json:
            print(json.dumps([hit.as_dict() for hit in result.hits], ensure_ascii=False),
                  flush=True)
        else:
            out.print(hits_table(result))


@app.command()
def similar(
    ctx: typer.Context,
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="A paper's id (or arXiv id).")],
    limit: LimitOption = 20,
    since: FromOption = None, until: ToOption = None, category: CategoryOption = None,
    has_code: CodeOption = None, as_json: JsonOption = False,
) -> None:
    """Papers similar to a stored paper, by its vector (no model call), else by shared words."""
    try:
        result = _service(ctx).similar(paper_id, limit=limit,
                                       filters=_filters(since, until, category, has_code))
    except PaperNotFound as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    for notice in result.notices:
        err.print(f"[yellow]{notice}", highlight=False)
    if as_json:
        print(json.dumps([hit.as_dict() for hit in result.hits], ensure_ascii=False))
    else:
        out.print(hits_table(result))


class WindowName(StrEnum):
    day = "day"
    week = "week"
    month = "month"


@app.command("trending")
def trending_command(
    ctx: typer.Context,
    window: Annotated[WindowName, typer.Option(help="How far back to look.")] = WindowName.week,
    category: CategoryOption = None,
    at: Annotated[datetime | None, typer.Option(
        "--at", formats=["%Y-%m-%d"],
        help="Show the list as it stood at the end of this day (UTC).")] = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Papers gaining upvotes and stars fastest, each with the numbers behind its place."""
    entries = _service(ctx).trending(window=window.value, day=at.date() if at else None,
                                     category=category, limit=limit)
    if as_json:
        print(json.dumps([entry.as_dict() for entry in entries], ensure_ascii=False))
        return
    out.print(trending_table(entries, window.value))


signals_app = typer.Typer(no_args_is_help=True, help="Signals that rank trending papers.")
app.add_typer(signals_app, name="signals")


@signals_app.command("refresh")
def signals_refresh(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(
        min=1, help="Check at most this many repositories, least recently checked first.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the GitHub stars of every code repository papers link to."""
    summary = _service(ctx).refresh_stars(limit=limit)
    if as_json:
        print(json.dumps(summary.as_dict()))
    else:
        out.print(f"Checked {summary.repositories:,} repositories: {summary.updated:,} with new "
                  f"star counts, {summary.unchanged:,} unchanged, {summary.moved:,} moved, "
                  f"{summary.gone:,} gone, {summary.failed:,} failed"
                  + (f" ({summary.skipped_gone:,} known gone, skipped)"
                     if summary.skipped_gone else "") + ".")
        for error in summary.errors:
            err.print(f"[red]failed:[/] {error}", highlight=False)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def embed(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(min=1, help="Embed at most this many.")] = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS", help="Embed on this Ray cluster (ray://HOST:10001, auto, or "
        "local to start Ray here); default: the ray_address setting.")] = None,
) -> None:
    """Compute the vectors papers are missing; safe to interrupt and run again."""
    from paperboy.embed.distributed import RayEmbedFailed, RayUnavailable

    service = _service(ctx)
    try:
        summary = service.embed(limit=limit, ray_address=ray)
    except (EmbedderUnavailable, RayUnavailable, RayEmbedFailed) as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    if summary.dropped:
        out.print(f"Deleted {summary.dropped:,} vectors of another model.")
    out.print(f"Embedded {summary.embedded:,} papers with {summary.model} in "
              f"{summary.seconds:.1f} s ({summary.papers_per_s:.1f} papers/s); "
              f"{summary.remaining:,} still without a vector.")


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Rebuild the word and vector indexes from the store (or the Milvus collection, when
    PAPERBOY_MILVUS_URI is set; an interrupted Milvus rebuild resumes)."""
    from paperboy.index.milvus import MilvusUnavailable

    service = _service(ctx)
    try:
        counts = service.reindex()
    except MilvusUnavailable as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    where = (f" in Milvus collection {service.settings.milvus_collection!r}"
             if service.settings.milvus_uri else "")
    out.print(f"Indexed {counts['lexical']:,} papers by words and {counts['vectors']:,} "
              f"by vector{where}.")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    schedule: Annotated[bool, typer.Option(
        "--schedule/--no-schedule", help="Also run the daily chain (harvest, stars, embed, "
        "digests) on schedule.")] = True,
) -> None:
    """Serve the web app: pages, the JSON API (/api, /openapi.json) and Atom feeds (/feeds)."""
    _serve(_service(ctx), host, port, schedule=schedule)


def _serve(service: Paperboy, host: str, port: int, *, schedule: bool = False) -> None:
    import threading

    import uvicorn

    from paperboy.schedule import start_scheduler
    from paperboy.web.app import create_app

    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    app = create_app(service, base_url=service.settings.base_url or url)
    out.print(f"Paperboy is serving {service.stats()['papers']:,} papers at [bold]{url}[/] "
              "(Ctrl-C stops it)")
    stop = threading.Event()
    if schedule:
        start_scheduler(service, stop)
    try:
        # keep-alive longer than a queued request can wait, so a busy server does not close a
        # connection a client is about to reuse
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                    timeout_keep_alive=30)
    finally:
        stop.set()


readers_app = typer.Typer(no_args_is_help=True, help="Readers of the daily digest.")
app.add_typer(readers_app, name="readers")


@readers_app.command("add")
def readers_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    follow: Annotated[list[str] | None, typer.Option(
        "--follow", help="A topic (any search) to follow; repeat for more.")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="A category to follow; repeat for more.")] = None,
    author: Annotated[list[str] | None, typer.Option(
        "--author", help="An author to follow; repeat for more.")] = None,
) -> None:
    """Add a confirmed reader (for importing an existing list), with what they follow."""
    from datetime import UTC
    from datetime import datetime as clock

    from paperboy.readers.accounts import valid_email

    service = _service(ctx)
    address = valid_email(email)
    if address is None:
        err.print(f"[red]error:[/] {email!r} is not an email address")
        raise typer.Exit(2)
    reader = service.store.readers.create(address, clock.now(UTC), confirmed=True)
    if reader["status"] == "pending":
        service.store.readers.confirm(reader["id"], clock.now(UTC))
    added = 0
    for kind, values in (("query", follow), ("category", category), ("author", author)):
        for value in values or []:
            added += service.follow(reader["id"], kind, value)
    out.print(f"Reader {address} (id {reader['id']}) is confirmed; {added} new follows.")


@readers_app.command("list")
def readers_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every reader, with status, digest hour and follows."""
    service = _service(ctx)
    readers = service.store.readers.all()
    follows = service.store.readers.follows([r["id"] for r in readers])
    rows = [{"id": r["id"], "email": r["email"], "status": r["status"],
             "digest_hour": r["digest_hour"], "timezone": r["timezone"],
             "last_digest_at": r["last_digest_at"].isoformat() if r["last_digest_at"] else None,
             "follows": [{"kind": f["kind"], "value": f["value"]} for f in follows
                         if f["reader_id"] == r["id"]]} for r in readers]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} readers")
    for column in ("id", "email", "status", "digest", "follows"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["id"]), row["email"], row["status"],
                      f"{row['digest_hour']:02d}:00 {row['timezone']}",
                      "; ".join(f"{f['kind']}: {f['value']}" for f in row["follows"]))
    out.print(table)


digest_app = typer.Typer(no_args_is_help=True, help="The daily email digest.")
app.add_typer(digest_app, name="digest")


@digest_app.command("send")
def digest_send(
    ctx: typer.Context,
    day: Annotated[datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"],
        help="Send this day's digest to every active reader without one (default: the "
             "readers whose hour has come).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send the digests that are due; never a second one to a reader on the same day."""
    run = _service(ctx).send_digests(day=day.date() if day else None)
    if as_json:
        print(json.dumps(run.as_dict()))
    else:
        out.print(f"{run.due} due: {run.sent} sent, {run.empty} with nothing new, "
                  f"{run.already} already sent, {run.temporary} to retry, {run.failed} failed.")
        for error in run.errors:
            err.print(f"[red]failed:[/] {error}", highlight=False)
    if run.failed or run.temporary or (run.due and run.errors):
        raise typer.Exit(1)


@digest_app.command("preview")
def digest_preview(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where to write the HTML.")] = Path("digest-preview.html"),
) -> None:
    """Write the reader's digest as it would be sent now to an HTML file (nothing is sent)."""
    try:
        digest, html = _service(ctx).preview_digest(email)
    except LookupError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    output.write_text(html, encoding="utf-8")
    out.print(f"{len(digest.items)} papers ({digest.new} new) written to {output}")


@app.command()
def daily(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Run the daily chain once (for cron): harvest, refresh stars, embed, send digests."""
    from paperboy.schedule import run_daily

    outcomes = run_daily(_service(ctx))
    if as_json:
        print(json.dumps([o.__dict__ for o in outcomes], default=str))
    else:
        for o in outcomes:
            mark = "[green]ok[/]" if o.ok else "[red]failed[/]"
            detail = ", ".join(f"{k} {v}" for k, v in o.counts.items()
                               if isinstance(v, int | float))
            out.print(f"{o.step:8} {mark} {detail}" + (f" ({o.error})" if o.error else ""))
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The last daily run (each step's time, counts and failures) and what the store holds."""
    from paperboy.schedule import status as current

    state = current(_service(ctx))
    if as_json:
        print(json.dumps(state, default=str))
        return
    out.print(f"papers: {state['papers']:,}, embedded: {state['embedded']:,}, readers: "
              + (", ".join(f"{n} {s}" for s, n in state["readers"].items()) or "none"))
    for step, run in state["runs"].items():
        out.print(f"{step:8} {run['status']:8} {run['started_at']}"
                  + (f" ({run['error']})" if run["error"] else ""))
    if not state["runs"]:
        out.print("No daily run yet: `paperboy daily`, or `paperboy serve` runs it.")


@app.command()
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="Serve the web app (or only load and list the papers).")]
    = True,
    limit: Annotated[int, typer.Option(min=1, help="How many papers to list.")] = 20,
) -> None:
    """Load the bundled demo corpus into a temporary home (or --home), embed it and serve it."""
    service: Paperboy = ctx.obj
    if ctx.parent is None or ctx.parent.params.get("home") is None:
        home = Path(tempfile.mkdtemp(prefix="paperboy-demo-"))
        service = Paperboy(Settings.load(home=home, database_url=""), progress=RichProgress())
        ctx.call_on_close(service.close)
    summaries = service.ingest([str(path) for path in demo_sources()])
    out.print(summary_table(summaries))
    try:
        service.embed()
    except EmbedderUnavailable as error:
        err.print(f"[yellow]searching by words only: {error}", highlight=False)
    counts = service.stats()
    if serve:
        _serve(service, host, port)
        return
    table = Table(title=f"Paperboy demo: {counts['papers']} papers "
                        f"(home: {service.settings.home})", show_lines=False)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("title")
    table.add_column("code", overflow="fold")
    for paper in service.papers(limit=limit):
        table.add_row(paper["id"], paper["title"], " ".join(paper["links"]["code"]))
    out.print(table)
    out.print(f"Showing {min(limit, counts['papers'])} of {counts['papers']}. Next: "
              f"paperboy --home {service.settings.home} serve")
