"""`paperboy serve` with no network: the daily chain runs at once, every remote step gives up on
its host within seconds and says so in one line, embedding is done, and `status` shows it all.

The network is made unreachable by pointing every remote URL at a closed port of this machine
(connections refused), which is what a laptop offline sees after its DNS answers from cache.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PAPER_FIXTURES, make_settings

from paperboy.embed import HashingEmbedder
from paperboy.service import Paperboy
from paperboy.signals.refresh import linked_repositories

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def test_serve_offline_finishes_its_chain_in_under_a_minute(tmp_path: Path) -> None:
    home = tmp_path / "home"
    service = Paperboy(make_settings(home), embedder=HashingEmbedder(dim=64))
    service.ingest([str(f) for f in PAPER_FIXTURES])
    papers = service.stats()["papers"]
    repositories = len(linked_repositories(service.store))
    service.close()
    assert repositories > 5
    env = {**os.environ, "COLUMNS": "200", "PAPERBOY_DATABASE_URL": "",
           "PAPERBOY_EMBEDDING_MODEL": "hashing-64",
           "PAPERBOY_SOURCES": "arxiv:cs.LG,hf:daily,rss:cs.LG,s2:kernels",
           "PAPERBOY_ARXIV_API_URL": f"{NOWHERE}/api/query", "PAPERBOY_RSS_URL": f"{NOWHERE}/rss",
           "PAPERBOY_HF_URL": f"{NOWHERE}/api/daily_papers", "PAPERBOY_S2_URL": NOWHERE,
           "PAPERBOY_GITHUB_API_URL": NOWHERE}
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "paperboy", "--home", str(home), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        runs: dict[str, dict] = {}
        while time.monotonic() - started < 60:
            state = subprocess.run(
                [sys.executable, "-m", "paperboy", "--home", str(home), "status", "--json"],
                capture_output=True, text=True, env=env, check=True, timeout=60)
            runs = json.loads(state.stdout)["runs"]
            if all(runs.get(step, {}).get("finished_at") for step in ("harvest", "embed",
                                                                       "signals")):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert all(runs.get(s, {}).get("finished_at") for s in ("harvest", "embed", "signals")), \
            runs
        assert elapsed < 60
        harvest, embed, stars = runs["harvest"], runs["embed"], runs["signals"]
        assert harvest["status"] == "failed" and harvest["counts"]["failed"] == 4
        assert "gave up on 127.0.0.1 after 3 failed connection attempts" in harvest["error"]
        assert embed["status"] == "ok" and embed["counts"] == {"embedded": papers, "remaining": 0}
        assert stars["status"] == "failed"
        assert re.search(r"gave up on 127\.0\.0\.1 .*; [\d,]+ repositories not checked",
                         stars["error"]), stars["error"]
        assert stars["counts"]["failed"] == repositories  # the first one, and the rest untried
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert "Traceback" not in stderr
