"""HTTP cost of `paperboy serve`: N generated papers, one client and then C clients on loopback.

    python bench/serve.py --papers 100000 [--clients 50] [--requests 2000 | --seconds S]
                          [--model NAME] [--workers N] [--keep DIR]

Builds a home with N papers (bench/search.py's generator: texts from the 33k real arXiv papers
in ../shared/corpus), their word index and their vectors. The embedder is the deterministic
hashing-384 (PAPERBOY_EMBEDDING_MODEL=hashing-384): it embeds every paper and each query with
no model download, so the numbers are about the HTTP layer over a real hybrid search, not about
a model. With --model NAME the server encodes queries with that model instead and the papers get
random unit vectors stored under its name (embedding N papers with a real model on a CPU would
take hours). The JSON records which embedder ran.

Then `paperboy --home HOME serve` runs as a child process, as a user runs it (uvicorn), and,
after /healthz answers and a warm-up, aiohttp sends the queries of bench/search.py (the dev-set
queries, then phrases from corpus titles): one client in sequence to GET /api/search?limit=20
(nothing queues, so client latency minus service time is what HTTP adds), then C concurrent
clients over keep-alive connections to /api/search, to the search page /search, and to a mix
of what readers ask for (`mixed`: searches, paper pages, feeds, trending). `--workers N` runs
`serve --workers N`; server CPU and peak RSS are then summed over its processes. Every
response's `Server-Timing: search;dur=MS` header gives the service's own search time for that
request. Per target: requests/s, client and service p50/p95/p99 in ms, the per-request
difference (`http_ms`), errors (non-200 or exception), `http_overhead_ratio_p50` (client p50 /
service p50) and the CPU milliseconds the server and this client spent per request. The client
shares the machine with the server and, with one client, its own time is on every request's
path, so `client_floor_1_client` times the same one-client run against a canned in-process
server, and `http_overhead_ratio_p50_net_of_client` takes that floor out. The issue's target:
ratio < 1.20 with one client and no errors under 50 clients (`meets_target`, on the plain
ratio). Also the server's peak RSS (VmHWM) and its exit status after a clean stop (SIGINT).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from search import queries, store_papers  # noqa: E402

from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402

DEFAULT_MODEL = "hashing-384"
TARGET_RATIO = 1.20
TIMING = re.compile(r"search;dur=([0-9.]+)")
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def build(home: Path, papers: int, model: str) -> dict[str, object]:
    settings = Settings.load(env={}, home=home, database_url="", embedding_model=model,
                             embed_batch_size=2000)
    service = Paperboy(settings)
    store = service.store
    started = time.perf_counter()
    store_papers(store, papers)
    store_s = time.perf_counter() - started

    started = time.perf_counter()
    service.lexical  # noqa: B018 - opening it brings the word index up to date with the store
    lexical_s = time.perf_counter() - started

    started = time.perf_counter()
    if re.fullmatch(r"hashing-\d+", model):
        service.embed()
        vectors = f"{model} embeddings of every paper"
    else:
        _random_vectors(service, model)
        vectors = f"random unit vectors stored as {model}'s"
    vector_s = time.perf_counter() - started
    service.close()
    return {"vectors": vectors, "store_s": round(store_s, 1),
            "lexical_build_s": round(lexical_s, 1), "vector_build_s": round(vector_s, 1)}


def _random_vectors(service: Paperboy, model: str) -> None:
    dim = service.embedder().dim  # also proves the model loads before the server needs it
    rng = np.random.default_rng(7)
    store = service.store
    while papers := store.embeddings.missing(model, limit=20_000):  # each batch is saved
        ids = [p["id"] for p in papers]
        matrix = rng.standard_normal((len(ids), dim), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        with store.transaction() as conn:
            store.embeddings.save(conn, model, ids, matrix, datetime.now(UTC))
    service.vectors(dim=dim)  # brings the HNSW index up to date with the stored vectors


def _pages(home: Path) -> tuple[list[str], list[str]]:
    """Paper ids for the paper pages (spread over the store) and the categories for feeds."""
    settings = Settings.load(env={}, home=home, database_url="")
    service = Paperboy(settings)
    try:
        papers = service.papers(limit=1000)
    finally:
        service.close()
    return [p["id"] for p in papers], sorted({c for p in papers for c in p["categories"]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(home: Path, model: str, port: int, log: Path, timeout_s: float, workers: int,
          ) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "PAPERBOY_DATABASE_URL": "", "PAPERBOY_EMBEDDING_MODEL": model,
           "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "paperboy", "--home", str(home),
                                  "serve", "--no-schedule", "--host", "127.0.0.1",
                                  "--port", str(port), "--workers", str(workers)],
                                 stdout=out, stderr=subprocess.STDOUT, env=env)
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if child.poll() is not None:
            raise SystemExit(f"paperboy serve exited with status {child.returncode}:\n"
                             f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200 \
                    and len(server_processes(child.pid)) == (workers + 1 if workers > 1 else 1):
                return child, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    child.kill()
    raise SystemExit(f"paperboy serve did not answer /healthz within {timeout_s:.0f} s:\n"
                     f"{log.read_text(errors='replace')[-3000:]}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def server_processes(pid: int) -> list[int]:
    """The server and its worker processes (`serve --workers N` forks N)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [pid, *map(int, f.read().split())]


def server_cpu_s(pid: int) -> float:
    return sum(cpu_s(p) for p in server_processes(pid))


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(f"{key}:"))


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    return {f"p{p}": round(float(np.percentile(values, p)), 2) for p in (50, 95, 99)}


Request = Callable[[int], tuple[str, dict[str, str]]]  # request number -> (path, params)


def searches(path: str, params: dict[str, str], texts: list[str]) -> Request:
    return lambda n: (path, {"q": texts[n % len(texts)], **params})


def mixed(texts: list[str], paper_ids: list[str], categories: list[str]) -> Request:
    """What readers' browsers and feed readers ask for, in a fixed cycle of 20 requests: the
    search API 5, the search page 4, paper pages 6, feeds 2 (trending, a category), the
    trending page and API 3."""
    def request(n: int) -> tuple[str, dict[str, str]]:
        slot, text = n % 20, texts[n % len(texts)]
        if slot < 5:
            return "/api/search", {"q": text, "limit": "20"}
        if slot < 9:
            return "/search", {"q": text}
        if slot < 15:
            return f"/papers/{paper_ids[n % len(paper_ids)]}", {}
        if slot == 15:
            return "/feeds/trending.xml", {}
        if slot == 16:
            return f"/feeds/categories/{categories[n % len(categories)]}.xml", {}
        return ("/trending", {}) if slot < 19 else ("/api/trending", {"window": "week"})
    return request


async def drive(client: aiohttp.ClientSession, target: Request, *, clients: int,
                requests: int | None, seconds: float | None,
                server_pid: int | None) -> dict[str, Any]:
    """Send `requests` requests (or as many as fit in `seconds`) from `clients` workers."""
    numbers = itertools.count()
    client_ms: list[float] = []
    service_ms: list[float] = []
    overhead_ms: list[float] = []
    sizes: list[int] = []
    errors: Counter[str] = Counter()
    no_timing = 0
    deadline = time.perf_counter() + seconds if seconds else None

    async def worker() -> None:
        nonlocal no_timing
        while True:
            n = next(numbers)
            if (requests is not None and n >= requests) or (
                    deadline is not None and time.perf_counter() >= deadline):
                return
            started = time.perf_counter()
            try:
                path, params = target(n)
                async with client.get(path, params=params) as response:
                    body = await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                errors[type(error).__name__] += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                errors[f"{response.status} {path}"] += 1
                continue
            client_ms.append(elapsed)
            sizes.append(len(body))
            if m := TIMING.search(response.headers.get("server-timing", "")):
                service_ms.append(float(m.group(1)))
                overhead_ms.append(elapsed - service_ms[-1])
            else:
                no_timing += 1

    server_cpu = server_cpu_s(server_pid) if server_pid else 0.0
    client_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - started
    server_cpu = server_cpu_s(server_pid) - server_cpu if server_pid else 0.0
    client_cpu = time.process_time() - client_cpu
    done = len(client_ms) + sum(errors.values())
    client_p, service_p = percentiles(client_ms), percentiles(service_ms)
    return {
        "clients": clients, "requests": done, "seconds": round(wall, 2),
        "requests_per_s": round(done / wall, 1) if wall else None,
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "missing_server_timing": no_timing,
        "response_bytes_p50": int(np.median(sizes)) if sizes else None,
        "client_ms": client_p, "service_ms": service_p, "http_ms": percentiles(overhead_ms),
        "http_overhead_ratio_p50": round(client_p["p50"] / service_p["p50"], 2)
        if client_p["p50"] and service_p["p50"] else None,
        "server_cpu_ms_per_request": round(server_cpu * 1000 / done, 2)
        if done and server_pid else None,
        "client_cpu_ms_per_request": round(client_cpu * 1000 / done, 2) if done else None,
    }


async def measure(port: int, texts: list[str], mix: Request, *, clients: int,
                  requests: int | None, seconds: float | None, warmup: int,
                  server_pid: int) -> dict[str, Any]:
    api = searches("/api/search", {"limit": "20"}, texts)
    page = searches("/search", {}, texts)
    async with _session(port, clients) as client:
        # caches, lazy imports, templates, pool threads; with other queries than the phases'
        # (texts[-warmup:]), so no phase finds its queries' vectors cached by the warm-up
        warm = texts[-warmup:]
        for target in (searches("/api/search", {}, warm), searches("/search", {}, warm), mix):
            await drive(client, target, clients=1, requests=warmup, seconds=None,
                        server_pid=server_pid)
            await drive(client, target, clients=clients, requests=2 * clients, seconds=None,
                        server_pid=server_pid)

        async def phase(target: Request, concurrent: int) -> dict[str, Any]:
            return await drive(client, target, clients=concurrent, requests=requests,
                               seconds=seconds, server_pid=server_pid)

        single = await phase(api, 1)
        result = {"api_search_1_client": single,
                  f"api_search_{clients}_clients": await phase(api, clients),
                  f"search_page_{clients}_clients": await phase(page, clients),
                  f"mixed_{clients}_clients": await phase(mix, clients)}
    floor = await client_floor(texts, body_bytes=single["response_bytes_p50"] or 0,
                               requests=requests, seconds=seconds, warmup=warmup)
    result["client_floor_1_client"] = floor
    client_p50, floor_p50 = single["client_ms"]["p50"], floor["client_ms"]["p50"]
    service_p50 = single["service_ms"]["p50"]
    single["http_overhead_ratio_p50_net_of_client"] = round(
        (client_p50 - floor_p50) / service_p50, 2) if client_p50 and service_p50 else None
    return result


async def client_floor(texts: list[str], *, body_bytes: int, requests: int | None,
                       seconds: float | None, warmup: int) -> dict[str, Any]:
    """What this client alone costs: the one-client run against a canned in-process server.

    It answers every request at once with a body the size of the median /api/search answer,
    so its latency is aiohttp, the event loop and loopback TCP, not Paperboy; the canned server
    shares the client's thread, so the floor is a little high and the net ratio a little low.
    """
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
              b"content-length: %d\r\n\r\n" % body_bytes) + b" " * body_bytes

    handlers: list[asyncio.Task[Any]] = []  # awaited after the client hangs up

    async def answer_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if task := asyncio.current_task():
            handlers.append(task)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        writer.close()

    server = await asyncio.start_server(answer_all, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with _session(port, 1) as client:
        target = searches("/api/search", {"limit": "20"}, texts)
        await drive(client, target, clients=1, requests=warmup, seconds=None, server_pid=None)
        floor = await drive(client, target, clients=1, requests=requests, seconds=seconds,
                            server_pid=None)
    await asyncio.wait_for(asyncio.gather(*handlers), timeout=10)
    server.close()
    await server.wait_closed()
    return {key: floor[key] for key in ("requests", "errors", "client_ms", "response_bytes_p50",
                                        "client_cpu_ms_per_request")}


def _session(port: int, clients: int) -> aiohttp.ClientSession:
    """The load's HTTP client: `clients` keep-alive connections to the port. aiohttp, whose
    parser is C: httpx spent 2.8 ms of CPU a request at 50 connections against a canned server
    (aiohttp 0.09), and on 2 cores the client's CPU is taken from the server's."""
    return aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                 connector=aiohttp.TCPConnector(limit=clients),
                                 timeout=aiohttp.ClientTimeout(total=120))


def stop(child: subprocess.Popen[bytes]) -> int:
    child.send_signal(signal.SIGINT)  # what Ctrl-C sends: uvicorn shuts down gracefully
    try:
        return child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise SystemExit("paperboy serve did not stop within 30 s of SIGINT; killed") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests per target and phase")
    parser.add_argument("--seconds", type=float,
                        help="run each target and phase this long instead of --requests")
    parser.add_argument("--queries", type=int, default=2000,
                        help="distinct queries, cycled (more than the 512 a server keeps the "
                        "vectors of, so a phase embeds its queries as a reader's would be)")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers N")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="embedding model the server runs (default: the hashing embedder)")
    parser.add_argument("--port", type=int, help="default: a free port")
    parser.add_argument("--startup-timeout", type=float, default=600)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    args = parser.parse_args()

    temporary = None if args.keep else tempfile.TemporaryDirectory(prefix="paperboy-serve-")
    home = args.keep or Path(temporary.name)  # type: ignore[union-attr]
    home.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"benchmark": "serve", "papers": args.papers,
                              "embedder": args.model, "clients": args.clients}
    result.update(build(home, args.papers, args.model))
    result["build_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    texts = queries(max(args.queries, args.warmup + 2 * args.clients))
    port = args.port or free_port()
    log = home / "serve-bench.log"
    mix = mixed(texts, *_pages(home))
    child, startup_s = start(home, args.model, port, log, args.startup_timeout, args.workers)
    result["workers"] = args.workers
    try:
        result["server_startup_s"] = round(startup_s, 2)
        result.update(asyncio.run(measure(
            port, texts, mix, clients=args.clients,
            requests=None if args.seconds else args.requests, seconds=args.seconds,
            warmup=args.warmup, server_pid=child.pid)))
        # each process' own peak, summed (pages shared between the workers count in each)
        result["server_peak_rss_mb"] = round(sum(
            status_kb(p, "VmHWM") for p in server_processes(child.pid)) / 1024, 1)
    finally:  # a server that died during the run shows here, with its status
        result["server_exit_status"] = stop(child) if child.poll() is None else child.returncode
    single = result["api_search_1_client"]
    loaded = [result[f"{t}_{args.clients}_clients"]
              for t in ("api_search", "search_page", "mixed")]
    ratio = single["http_overhead_ratio_p50"]
    result["meets_target"] = (ratio is not None and ratio < TARGET_RATIO
                              and all(r["errors"] == 0 for r in loaded)
                              and result["server_exit_status"] == 0)
    print(json.dumps(result))
    if temporary:
        temporary.cleanup()


if __name__ == "__main__":
    main()
