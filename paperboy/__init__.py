"""Paperboy: a self-hosted research-paper radar."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paperboy")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
