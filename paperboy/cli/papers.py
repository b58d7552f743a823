"""Commands on papers: collect, count, search, find similar, rank trending, embed, reindex."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from paperboy.cli._app import (
    CategoryOption,
    CodeOption,
    FromOption,
    JsonOption,
    LimitOption,
    ToOption,
    app,
    open_service,
    search_filters,
)
from paperboy.console import (
    err,
    hits_table,
    out,
    summary_table,
    trending_table,
)
from paperboy.embed import EmbedderUnavailable
from paperboy.index.hybrid import MODES, SORTS, PaperNotFound
from paperboy.ingest.runner import StrictStop


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(
        help="Files (format told from content) or remote sources: arxiv:CATEGORY_OR_QUERY, "
             "oai:SET, hf:daily[:YYYY-MM-DD], rss:CATEGORY, s2:QUERY, s2:ids:ID,ID.")],
    strict: Annotated[bool, typer.Option(
        help="Stop at the first failure and leave the store exactly as before.")] = False,
    since: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="OAI-PMH: harvest changes from this day.")] = None,
    until: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="OAI-PMH: harvest changes until this day.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Collect papers from files and services into the store; idempotent and resumable."""
    service = open_service(ctx)
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
    counts = open_service(ctx, reads=True).stats()
    if as_json:
        print(json.dumps(counts))
        return
    for name, value in counts.items():
        out.print(f"{name}: {value:,}")


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
    sort: Annotated[str, typer.Option(
        help="relevance (best first) or newest (the best matches, newest first).")] = "relevance",
) -> None:
    """Search papers by words and by meaning; each hit says why it was found. Operators:
    -word, "a phrase", author:/au:, title:/ti:, cat:, year:2025 or year:2023-2025."""
    if mode not in MODES:
        raise typer.BadParameter(f"use one of {', '.join(MODES)}", param_hint="--mode")
    if sort not in SORTS:
        raise typer.BadParameter(f"use one of {', '.join(SORTS)}", param_hint="--sort")
    service = open_service(ctx, reads=True)
    filters = search_filters(since, until, category, has_code)
    queries = (line.rstrip("\n") for line in sys.stdin) if query == "-" else iter([query])
    for text in queries:
        result = service.search(text, limit=limit, offset=offset, mode=mode,  # type: ignore[arg-type]
                                filters=filters, sort=sort)  # type: ignore[arg-type]
        _print_notices(result.notices)
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
        result = open_service(ctx, reads=True).similar(
            paper_id, limit=limit, filters=search_filters(since, until, category, has_code))
    except PaperNotFound as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    _print_notices(result.notices)
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
        "--at", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Show the list as it stood at the end of this day (UTC).")] = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Papers gaining upvotes and stars fastest, each with the numbers behind its place."""
    entries = open_service(ctx, reads=True).trending(
        window=window.value, day=at.date() if at else None, category=category, limit=limit)
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
    summary = open_service(ctx).refresh_stars(limit=limit)
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
    limit: Annotated[int | None, typer.Option(
        min=1, help="Embed at most this many: the newest papers still missing.")] = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS", help="Embed on this Ray cluster (ray://HOST:10001, auto, or "
        "local to start Ray here); default: the ray_address setting.")] = None,
) -> None:
    """Compute the vectors papers are missing; safe to interrupt and run again."""
    from paperboy.embed.distributed import RayEmbedFailed, RayUnavailable

    service = open_service(ctx)
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
    service = open_service(ctx)
    counts = service.reindex()
    where = (f" in Milvus collection {service.settings.milvus_collection!r}"
             if service.settings.milvus_uri else "")
    out.print(f"Indexed {counts['lexical']:,} papers by words and {counts['vectors']:,} "
              f"by vector{where}.")


def _print_notices(notices: list[str]) -> None:
    """The search's notices, with what the operator can do about missing vectors (the web
    shows visitors the notices alone)."""
    for notice in notices:
        err.print(f"[yellow]{notice}", highlight=False)
    if any("vector yet" in notice for notice in notices):
        err.print("[yellow]Run `paperboy embed` to search by meaning too.", highlight=False)
