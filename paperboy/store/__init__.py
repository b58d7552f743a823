"""The store: papers and everything derived from them live in one SQL database."""

from paperboy.store.store import Outcome, Store

__all__ = ["Outcome", "Store"]
