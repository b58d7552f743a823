"""The store: papers and everything derived from them live in one SQL database."""

from paperboy.store.batch import Outcome, Written
from paperboy.store.store import Store

__all__ = ["Outcome", "Store", "Written"]
