"""`serve` and `demo`: the web app, over a home or over the bundled demo corpus."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from paperboy.cli._app import (
    app,
    open_service,
)
from paperboy.console import (
    RichProgress,
    err,
    out,
    summary_table,
)
from paperboy.embed import EmbedderUnavailable
from paperboy.service import Paperboy, demo_sources
from paperboy.settings import Settings

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]


@app.command()
def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    schedule: Annotated[bool, typer.Option(
        "--schedule/--no-schedule", help="Also run the daily chain (harvest, stars, embed, "
        "digests) on schedule.")] = True,
) -> None:
    """Serve the web app: pages, the JSON API (/api, /openapi.json) and Atom feeds (/feeds)."""
    _serve(open_service(ctx, reads=True), host, port, schedule=schedule)


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


@app.command()
def demo(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    serve: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="Serve the web app (or only load and list the papers).")]
    = True,
    limit: Annotated[int, typer.Option(min=1, help="How many papers to list.")] = 20,
) -> None:
    """Load the bundled demo corpus into a temporary home (or --home), embed it and serve it."""
    service: Paperboy = ctx.obj
    if ctx.parent is None or ctx.parent.params.get("home") is None:
        home = Path(tempfile.mkdtemp(prefix="paperboy-demo-"))
        service = Paperboy(Settings.load(home=home, database_url=""), progress=RichProgress(),
                           clock=service.clock)
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
