"""The `paperboy` command line (`paperboy.cli:app`); see `_app.py`."""

from paperboy.cli import papers, readers, serving  # noqa: F401 - each registers its commands
from paperboy.cli._app import app

__all__ = ["app"]
