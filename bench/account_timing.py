"""Account enumeration by timing: how long the sign-in and subscribe forms take to answer for
addresses that have an account and for addresses that do not.

    python bench/account_timing.py [--requests 400]

The web app runs in-process (Starlette's test client) over a store with `--requests / 4` readers
and a mailbox folder for mail; the per-address and per-client rate limits are kept apart by
sending each request from its own client behind a trusted proxy. Requests alternate known and
unknown addresses, and both forms are timed. The floor is the same POST with a wrong CSRF token
(refused before any account work), measured in the same run. Prints one JSON object: the median
and 90th percentile per form and kind of address in milliseconds, and how much of the known and
unknown time distributions overlap (1.0: they cannot be told apart by their spread).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paperboy.embed import HashingEmbedder  # noqa: E402
from paperboy.service import Paperboy  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.web.app import create_app  # noqa: E402


def overlap(a: list[float], b: list[float]) -> float:
    """The share of each sample inside the other's 5th-95th percentile range, averaged."""
    def inside(xs: list[float], ys: list[float]) -> float:
        qs = statistics.quantiles(ys, n=20)
        return sum(qs[0] <= x <= qs[-1] for x in xs) / len(xs)
    return round((inside(a, b) + inside(b, a)) / 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="per form")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(env={}, home=Path(tmp) / "home", smtp_url=f"file:{tmp}/mail",
                                 trusted_proxies="127.0.0.1")
        service = Paperboy(settings, embedder=HashingEmbedder(dim=64))
        known = [f"reader{n}@example.org" for n in range(args.requests // 2)]
        for address in known:
            service.store.readers.create(address, service.clock(), confirmed=True)
        app = create_app(service, base_url="https://papers.example.org")
        report: dict[str, object] = {"requests_per_form": args.requests}
        with TestClient(app, base_url="https://testserver", client=("127.0.0.1", 5000)) as web:
            page = web.get("/signin").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore
            n = 0

            def post(form: str, address: str, csrf: str) -> float:
                nonlocal n
                n += 1
                started = time.perf_counter()
                answer = web.post(form, data={"email": address, "csrf": csrf},
                                  headers={"X-Forwarded-For": f"10.{n >> 16 & 255}."
                                                              f"{n >> 8 & 255}.{n & 255}"})
                elapsed = 1000 * (time.perf_counter() - started)
                assert answer.status_code in (200, 403), answer.text
                return elapsed

            for form in ("/signin", "/subscribe"):
                times: dict[str, list[float]] = {"known": [], "unknown": [], "floor": []}
                for i in range(args.requests // 2):
                    times["known"].append(post(form, known[i], token))
                    times["unknown"].append(post(form, f"new{form[1:]}{i}@example.org", token))
                    times["floor"].append(post(form, known[i], "not-the-token"))
                app.state.accounts.outbox.wait_idle(120)
                report[form] = {
                    kind: {"median_ms": round(statistics.median(ts), 3),
                           "p90_ms": round(statistics.quantiles(ts, n=10)[-1], 3)}
                    for kind, ts in times.items()}
                report[form]["overlap_known_unknown"] = overlap(times["known"],  # type: ignore
                                                               times["unknown"])
        service.close()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
