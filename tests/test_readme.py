"""Every command in the README's code blocks that needs no network, run as a reader pastes it:
one bash session in a folder that looks like the clone's (its `paperboy/` and `.venv/` linked
in), with `~` a temporary folder (so `~/papers` is a fresh home). The first block (install and
demo, install and test) is what CI itself runs; lines whose comment ends in "online)" or says
"until Ctrl-C" are skipped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = ("online)", "until Ctrl-C")


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line.strip() for block in blocks[1:] for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")
            and not any(mark in line for mark in SKIPPED)]


def test_the_readme_commands_that_need_no_network_run_as_pasted(tmp_path: Path) -> None:
    commands = readme_commands()
    assert any(c.startswith("paperboy search") for c in commands)
    assert any(c.startswith("paperboy digest preview") for c in commands)
    script = "set -eo pipefail\n" + "".join(
        f"echo '>>> {c.replace(chr(39), '')}'\n{c}\n" for c in commands)
    venv = Path(sys.executable).parent
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "120",
           "PATH": f"{venv}:{os.environ.get('PATH', '')}",
           # the real model would do; the hashing one keeps the test short
           "PAPERBOY_EMBEDDING_MODEL": "hashing-64", "PAPERBOY_DATABASE_URL": ""}
    for name in ("PAPERBOY_HOME", "PAPERBOY_SMTP_URL", "PAPERBOY_BASE_URL"):
        env.pop(name, None)
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "paperboy").symlink_to(ROOT / "paperboy")
    (clone / ".venv").symlink_to(venv.parent)  # the environment these tests run in
    done = subprocess.run(["bash", "-c", script], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    home = tmp_path / "papers"
    assert (home / "paperboy.sqlite3").exists()
    assert "<html" in (clone / "preview.html").read_text()
    mail = list((tmp_path / "paperboy-mail").glob("*.eml"))
    assert mail, "digest send wrote no email to the mailbox folder"
