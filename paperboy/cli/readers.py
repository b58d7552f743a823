"""Readers and their digest: add and list readers, send or preview digests, the daily chain."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from paperboy.cli._app import (
    JsonOption,
    app,
    open_service,
)
from paperboy.console import (
    err,
    out,
)

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
    from paperboy.readers.accounts import valid_email

    service = open_service(ctx)
    address = valid_email(email)
    if address is None:
        err.print(f"[red]error:[/] {email!r} is not an email address")
        raise typer.Exit(2)
    reader = service.store.readers.create(address, service.clock(), confirmed=True)
    if reader["status"] == "pending":
        service.store.readers.confirm(reader["id"], service.clock())
    added = 0
    for kind, values in (("query", follow), ("category", category), ("author", author)):
        for value in values or []:
            added += service.follow(reader["id"], kind, value)
    out.print(f"Reader {address} (id {reader['id']}) is confirmed; {added} new follows.")


@readers_app.command("list")
def readers_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every reader, with status, digest hour and follows."""
    service = open_service(ctx)
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
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Send this day's digest to every active reader without one (default: the "
             "readers whose hour has come).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send the digests that are due; never a second one to a reader on the same day."""
    run = open_service(ctx).send_digests(day=day.date() if day else None)
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
    """Write the reader's next digest, as it stands now, to an HTML file (nothing is sent)."""
    try:
        digest, html = open_service(ctx).preview_digest(email)
    except LookupError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    output.write_text(html, encoding="utf-8")
    new = (f"new since the last digest ({digest.since:%Y-%m-%d %H:%M} UTC)"
           if digest.reader["last_digest_at"] else "new in the last day")
    out.print(f"The digest of {digest.day}: {len(digest.items)} papers ({digest.new} {new}), "
              f"written to {output}")


@app.command()
def daily(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Run the daily chain once (for cron): harvest, embed, refresh stars, send digests."""
    from paperboy.schedule import run_daily

    outcomes = run_daily(open_service(ctx))
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

    state = current(open_service(ctx, reads=True))
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


def _reader_id(ctx: typer.Context, email: str) -> int:
    reader = open_service(ctx).store.readers.by_email(email.strip().lower())
    if reader is None:
        err.print(f"[red]error:[/] no reader with the address {email!r} (add one with "
                  "`paperboy readers add`)", highlight=False)
        raise typer.Exit(2)
    return int(reader["id"])


@readers_app.command("import")
def readers_import(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    file: Annotated[Path, typer.Argument(
        help="BibTeX, RIS or CSL-JSON (Zotero's, Mendeley's exports), or a list of arXiv "
             "ids, DOIs and arXiv/DOI URLs, one per line.")],
    fetch: Annotated[bool, typer.Option(
        "--fetch/--no-fetch", help="Fetch arXiv papers not stored yet from the arXiv API.")]
    = True,
    collection: Annotated[str | None, typer.Option(
        "--collection", help="Into this collection (made if new; default: Library).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add the papers of a reference manager's export to a reader's library."""
    from paperboy.ingest.files import open_regular_file
    from paperboy.models import SourceError
    from paperboy.readers.library_formats import LibraryFileError
    from paperboy.store.library import CollectionError, collection_name

    reader_id = _reader_id(ctx, email)
    try:
        name = collection_name(collection)
    except CollectionError as error:
        raise typer.BadParameter(str(error), param_hint="--collection") from None
    try:
        with open_regular_file(file) as handle:
            data = handle.read()
        report = ctx.obj.import_library(reader_id, data, name=str(file), fetch=fetch,
                                        collection=name)
    except (SourceError, LibraryFileError) as error:
        err.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    out.print(f"{file.name} ({report.format}): {len(report.matched)} matched, "
              f"{len(report.fetched)} fetched from arXiv, {len(report.unmatched)} unmatched; "
              f"{report.added} added to {escape(name)}.", highlight=False)
    for where, why in report.unmatched:
        err.print(f"unmatched, {where}: {escape(why)}", highlight=False, emoji=False)
    for problem in report.problems:
        err.print(f"unreadable, {escape(problem)}", highlight=False, emoji=False)


@readers_app.command("export")
def readers_export(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    fmt: Annotated[str, typer.Option(
        "--format", help="bibtex, ris or csl-json.")] = "bibtex",
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write to this file (default: print).")] = None,
    collection: Annotated[str | None, typer.Option(
        "--collection", help="Only this collection (default: the whole library).")] = None,
) -> None:
    """A reader's library, or one collection of it, as BibTeX, RIS or CSL-JSON."""
    from paperboy.readers.library_formats import EXPORT_FORMATS

    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(EXPORT_FORMATS)}",
                                 param_hint="--format")
    reader_id = _reader_id(ctx, email)
    if collection is not None:
        collection = _collection_of(ctx, reader_id, collection)
    text = ctx.obj.export_library(reader_id, fmt, collection=collection)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"Wrote {output}.", highlight=False)


@readers_app.command("collections")
def readers_collections(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    rename: Annotated[tuple[str, str] | None, typer.Option(
        "--rename", metavar="OLD NEW", help="Rename a collection (onto another: merge).")]
    = None,
    merge: Annotated[tuple[str, str] | None, typer.Option(
        "--merge", metavar="FROM INTO", help="Move every paper of FROM into INTO.")] = None,
    delete: Annotated[str | None, typer.Option(
        "--delete", help="Delete a collection; its papers stay in the reader's others.")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """List a reader's collections, or rename, merge or delete one."""
    from paperboy.store.library import DEFAULT, CollectionError

    reader_id = _reader_id(ctx, email)
    library = ctx.obj.store.library
    try:
        if rename:
            if _collection_of(ctx, reader_id, rename[0]) == DEFAULT:
                raise CollectionError(f"{DEFAULT} keeps its name (saves without a collection "
                                      f"go there): use --merge {DEFAULT} NEW")
            library.rename(reader_id, rename[0], rename[1])
        if merge:
            library.merge(reader_id, _collection_of(ctx, reader_id, merge[0]), merge[1])
        if delete:
            library.delete(reader_id, _collection_of(ctx, reader_id, delete))
    except CollectionError as error:
        raise typer.BadParameter(str(error)) from None
    found = library.collections(reader_id)
    if as_json:
        print(json.dumps([{"name": name, "papers": count} for name, count in found.items()]))
        return
    for name, count in found.items():
        out.print(f"{escape(name)}: {count} paper{'s' if count != 1 else ''}", highlight=False)


def _collection_of(ctx: typer.Context, reader_id: int, name: str) -> str:
    """The stored name of one of the reader's collections; a usage error naming it if none."""
    from paperboy.store.library import CollectionError

    try:
        return str(ctx.obj.store.library.existing(reader_id, name))
    except CollectionError as error:
        raise typer.BadParameter(str(error)) from None


@readers_app.command("mute")
def readers_mute(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The reader's email address.")],
    word: Annotated[list[str] | None, typer.Option(
        "--word", help="A word to mute (stemmed, as search stems); repeat for more.")] = None,
    author: Annotated[list[str] | None, typer.Option(
        "--author", help="An author to mute; repeat for more.")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="A category (cs.CR), or an archive (cs); repeat for more.")] = None,
) -> None:
    """Keep papers with these words, authors or categories out of a reader's digest and
    recommendations."""
    reader_id = _reader_id(ctx, email)
    service = ctx.obj
    added = 0
    for kind, values in (("word", word), ("author", author), ("category", category)):
        for value in values or []:
            try:
                added += service.store.readers.mute(reader_id, kind, value, service.clock())
            except ValueError as error:
                raise typer.BadParameter(str(error), param_hint=f"--{kind}") from None
    out.print(f"{added} new mutes for {email}.", highlight=False)

