"""`serve` and `demo`: the web app, over a home or over the bundled demo corpus; `mcp`: the
Model Context Protocol server over stdio, for agents."""

from __future__ import annotations

import errno
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from paperboy.cli._app import (
    app,
    open_service,
)
from paperboy.clock import ShiftedClock
from paperboy.console import (
    RichProgress,
    err,
    out,
    summary_table,
)
from paperboy.embed import EmbedderUnavailable
from paperboy.service import Paperboy, demo_embedder, demo_sources
from paperboy.settings import Settings

HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(
    min=0, max=65535, help="Port to listen on (0: any free port).")]


@app.command()
def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    schedule: Annotated[bool, typer.Option(
        "--schedule/--no-schedule", help="Also run the daily chain (harvest, embed, stars, "
        "digests) on schedule.")] = True,
) -> None:
    """Serve the web app: pages, the JSON API (/api, /openapi.json), Atom feeds (/feeds), the
    Hugging Face compatible API (/hf) and the MCP server (/mcp)."""
    service = open_service(ctx, reads=True)  # a mistyped --home first: it costs nothing
    _serve(service, listen(host, port), schedule=schedule)


@app.command("mcp")
def mcp_stdio(ctx: typer.Context) -> None:
    """Serve the Model Context Protocol over stdin and stdout (read-only tools: search, paper,
    similar, trending, daily; each paper as a resource), for an agent that starts Paperboy
    itself. Nothing but the protocol goes to stdout."""
    from paperboy.web.mcp_server import build_mcp

    service = open_service(ctx, reads=True)
    service.warm_up()
    base = service.settings.base_url or "http://localhost:8000"
    build_mcp(service, base.rstrip("/")).run("stdio")


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, opened before any slow work so that a port in use is
    said at once; port 0 takes any free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        reason = "the port is in use (pick another with --port, or --port 0 for any free one)" \
            if error.errno == errno.EADDRINUSE else error.strerror or str(error)
        err.print(f"[red]error:[/] cannot listen on {host}:{port}: {reason}", highlight=False)
        raise typer.Exit(1) from None
    listener.set_inheritable(True)
    return listener


def _serve(service: Paperboy, listener: socket.socket, *, schedule: bool = False) -> None:
    import threading

    import uvicorn

    from paperboy.schedule import start_scheduler
    from paperboy.web.app import create_app

    host, port = listener.getsockname()[:2]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    try:
        app = create_app(service, base_url=service.settings.base_url or url)
    except ValueError as error:  # a setting the app cannot use, e.g. PAPERBOY_TRUSTED_PROXIES
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from None
    service.warm_up()  # here, so a backend that cannot open is one line, not a failed start
    out.print(f"Paperboy is serving {service.stats()['papers']:,} papers at [bold]{url}[/] "
              "(Ctrl-C stops it)")
    stop = threading.Event()
    if schedule:
        start_scheduler(service, stop)
    try:
        # keep-alive longer than a queued request can wait, so a busy server does not close a
        # connection a client is about to reuse
        config = uvicorn.Config(app, log_level="warning", proxy_headers=False,
                                timeout_keep_alive=30)
        uvicorn.Server(config).run(sockets=[listener])
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
    """Load the bundled demo corpus into a temporary home (removed on exit; or --home, kept),
    embed it and serve it."""
    listener = listen(host, port) if serve else None
    given: Paperboy = ctx.obj
    settings = given.settings
    temporary = ctx.parent is None or ctx.parent.params.get("home") is None
    if temporary:
        home = Path(tempfile.mkdtemp(prefix="paperboy-demo-"))
        ctx.call_on_close(lambda: shutil.rmtree(home, ignore_errors=True))
        settings = Settings.load(home=home, database_url="")
    # the demo's papers come with their vectors (data/demo_vectors.npz): no waiting on the CPU
    service = Paperboy(settings, progress=RichProgress(), clock=given.clock,
                       embedder=demo_embedder(given))
    ctx.call_on_close(service.close)
    summaries = service.ingest([str(path) for path in demo_sources()])
    out.print(summary_table(summaries))
    newest = service.store.newest_published()
    if newest is not None and newest.date() < service.clock().date():
        # the data ends on an earlier day: the demo's clock stands on that day, so trending
        # and "today" show what they showed then (the pages say "as of")
        service.clock = ShiftedClock(newest.date(), clock=service.clock)
        out.print(f"The demo's data ends on {newest.date()}: its clock stands on that day.")
    try:
        service.embed()
        if listener is not None:  # the model now, not on the first visitor's search
            service.embedder().embed(["warming up the model"])
    except EmbedderUnavailable as error:
        err.print(f"[yellow]searching by words only: {error}", highlight=False)
    counts = service.stats()
    if listener is not None:
        _serve(service, listener)
        return
    where = "temporary" if temporary else service.settings.home
    table = Table(title=f"Paperboy demo: {counts['papers']} papers (home: {where})",
                  show_lines=False)
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("title")
    table.add_column("code", overflow="fold")
    for paper in service.papers(limit=limit):
        table.add_row(paper["id"], paper["title"], " ".join(paper["links"]["code"]))
    out.print(table)
    shown = f"Showing {min(limit, counts['papers'])} of {counts['papers']}."
    if temporary:
        out.print(f"{shown} The temporary home is removed now; to keep one: "
                  "paperboy --home DIR demo --no-serve")
    else:
        out.print(f"{shown} Next: paperboy --home {service.settings.home} serve")
