"""`serve` and `demo`: the web app, over a home or over the bundled demo corpus; `mcp`: the
Model Context Protocol server over stdio, for agents."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
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

STOP_GRACE_S = 30  # how long a worker told to stop may take before it is killed
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
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes answering on the one port: up to one per core "
        "serves more requests at once; each holds its own indexes and model in memory.")] = 1,
) -> None:
    """Serve the web app: pages, the JSON API (/api, /openapi.json), Atom feeds (/feeds), the
    Hugging Face compatible API (/hf) and the MCP server (/mcp)."""
    service = open_service(ctx, reads=True)  # a mistyped --home first: it costs nothing
    if workers > 1 and not hasattr(os, "fork"):
        err.print("[red]error:[/] --workers needs fork(), which this system lacks: serve with "
                  "one process, or run several behind a proxy", highlight=False)
        raise typer.Exit(2)
    listener = listen(host, port, shared=workers > 1)
    if workers > 1:
        raise typer.Exit(_serve_in_workers(service, listener, workers=workers,
                                           schedule=schedule))
    _serve(service, listener, schedule=schedule)


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


def listen(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """A socket listening on host:port, opened before any slow work so that a port in use is
    said at once; port 0 takes any free one. `shared` (several workers, where the system has
    SO_REUSEPORT): the socket only holds the address, and each worker listens on its own socket
    there (`listen_beside`), among which the kernel spreads new connections evenly. On one
    shared listening socket the worker that wakes first accepts every waiting connection (50
    clients connecting at once: one worker served three quarters of the requests)."""
    shared = shared and hasattr(socket, "SO_REUSEPORT")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
        if not shared:
            listener.listen(2048)
    except OSError as error:
        reason = "the port is in use (pick another with --port, or --port 0 for any free one)" \
            if error.errno == errno.EADDRINUSE else error.strerror or str(error)
        err.print(f"[red]error:[/] cannot listen on {host}:{port}: {reason}", highlight=False)
        raise typer.Exit(1) from None
    listener.set_inheritable(True)
    return listener


def listen_beside(held: socket.socket) -> socket.socket:
    """A worker's own listening socket at the address `held` holds (`listen(shared=True)`), or
    `held` itself where it already listens (no SO_REUSEPORT)."""
    if held.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        return held
    own = socket.socket(held.family, held.type, held.proto)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    own.bind(held.getsockname())
    own.listen(2048)
    return own


def _serve(service: Paperboy, listener: socket.socket, *, schedule: bool = False,
           ready: Callable[[], object] | None = None, workers: int | None = 1,
           processes: int = 1, held: set[signal.Signals] | None = None) -> None:
    """Serve on `listener` until stopped; `ready` is called once the indexes and the model are
    open. `workers`: how many processes serve, said at the start (None: another says it);
    `processes`, how many serve in all (each works on its share of the cores' requests).
    `held`: signals blocked while starting, let through as serving begins (a Ctrl-C raised
    inside a library's native code during the start can be swallowed there)."""
    import gc
    import threading

    import uvicorn

    from paperboy.schedule import start_scheduler
    from paperboy.web.app import create_app, request_threads

    host, port = listener.getsockname()[:2]
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    try:
        app = create_app(service, base_url=service.settings.base_url or url,
                         threads=request_threads(processes))
    except ValueError as error:  # a setting the app cannot use, e.g. PAPERBOY_TRUSTED_PROXIES
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from None
    service.warm_up()  # here, so a backend that cannot open is one line, not a failed start
    # What is open now lasts as long as the server: frozen out of the collector's sight, a
    # full collection no longer walks the indexes' and the model's objects each time (at 33k
    # papers under load, a pause of 120-190 ms about every ten seconds). As Python's docs advise
    # for a long-lived process' start-up objects (gc.freeze).
    gc.collect()
    gc.freeze()
    if workers is not None:
        across = f" in {workers} processes" if workers > 1 else ""
        out.print(f"Paperboy is serving {service.stats()['papers']:,} papers at [bold]{url}[/]"
                  f"{across} (Ctrl-C stops it)")
    if ready is not None:
        ready()
    stop = threading.Event()
    if schedule:
        start_scheduler(service, stop)
    try:
        # keep-alive longer than a queued request can wait, so a busy server does not close a
        # connection a client is about to reuse
        config = uvicorn.Config(app, log_level="warning", proxy_headers=False,
                                timeout_keep_alive=30)
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)  # one that came stops us here
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:
        pass  # uvicorn stopped gracefully, then passed the Ctrl-C on: a clean stop, status 0
    finally:
        stop.set()


def _serve_in_workers(service: Paperboy, listener: socket.socket, *, workers: int,
                      schedule: bool) -> int:
    """`workers` processes serving on one address (each on its own socket where the system
    allows, see `listen`), as a pre-fork server does; the exit status. Each is forked before
    anything but the store is opened here (tantivy, ONNX Runtime and usearch keep threads a
    fork would not copy) and opens its own indexes and model.
    The first brings the word index up to date, then the others start. Ctrl-C or SIGTERM stops
    them all gracefully; a worker that dies stops the others (a supervisor restarts the whole).
    The daily chain runs in this parent process only."""
    import threading

    from paperboy.readers.accounts import secret_key

    secret_key(service.settings)  # made once here, not raced by the workers
    service.close()  # no store connection crosses a fork

    children: list[int] = []
    stopping: list[float] = []  # when the workers were told to stop

    def stop_all(_signum: int, _frame: object) -> None:
        stopping.append(time.monotonic())
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)  # what uvicorn stops gracefully on

    def fork_worker(ready: Callable[[], object] | None) -> None:
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # none lands between fork and handlers
        pid = os.fork()
        if pid:
            children.append(pid)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
            return
        os.setpgid(0, 0)  # Ctrl-C reaches the parent only, which stops each worker once
        _stop_with_parent()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = 0
        try:
            _serve(service.fresh(), listen_beside(listener), ready=ready,
                   workers=workers if ready else None, processes=workers, held=stops)
        except KeyboardInterrupt:
            pass
        except typer.Exit as exit_:  # a start refused in words (a setting the app cannot use)
            code = exit_.exit_code
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # noqa: BLE001 - said on stderr, and the status says it
            err.print_exception()
            code = 1
        finally:
            out.file.flush()
            os._exit(code)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    started, signal_ready = os.pipe()
    fork_worker(lambda: os.write(signal_ready, b"."))
    os.close(signal_ready)
    with os.fdopen(started, "rb") as first:
        served = first.read(1) == b"."
    if not served or stopping:  # the first worker failed (it said why), or Ctrl-C came first
        interrupted = bool(stopping)
        stop_all(signal.SIGTERM, None)
        code = _status(os.waitpid(children[0], 0)[1])
        return 0 if interrupted else code
    for _ in range(workers - 1):
        fork_worker(None)

    stop = threading.Event()
    if schedule:
        from paperboy.schedule import start_scheduler

        start_scheduler(service.fresh(), stop)
    worst = 0
    try:
        alive = set(children)
        while alive:
            pid, status = _wait_child(stopping, alive)
            alive.discard(pid)
            code = _status(status)
            if code and not stopping:
                err.print(f"[red]error:[/] a server process exited with status {code}; "
                          "stopping the others", highlight=False)
                stop_all(signal.SIGTERM, None)
            worst = worst or code
    finally:
        stop.set()
    return worst


def _stop_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG),
    so a parent killed outright leaves no worker holding the port; elsewhere, nothing."""
    import ctypes
    import ctypes.util

    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


def _wait_child(stopping: list[float], alive: set[int]) -> tuple[int, int]:
    """The next worker to exit, with its wait status; those still running `STOP_GRACE_S`
    after they were told to stop (`stopping[0]`) are killed."""
    while True:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid in alive:
            return pid, status
        if stopping and time.monotonic() - stopping[0] > STOP_GRACE_S:
            for other in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(other, signal.SIGKILL)
        time.sleep(0.05)


def _status(wait_status: int) -> int:
    """A child's exit status as a shell gives it (128 + N when signal N ended it)."""
    code = os.waitstatus_to_exitcode(wait_status)
    return code if code >= 0 else 128 - code


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
