"""The composition root: one `Paperboy` object wires settings, store and sources.

The command line, the web app and scheduled jobs all call this object; none of them opens a
database or a source by itself.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from paperboy.ingest.runner import SourceSummary, ingest
from paperboy.progress import Progress, Silent
from paperboy.settings import Settings
from paperboy.store import Store


def demo_corpus() -> Path:
    """The listing Paperboy ships as its demo corpus (194 papers about kernels)."""
    return Path(str(resources.files("paperboy") / "data" / "demo_listing.txt"))


class Paperboy:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        if not self.settings.database_url:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        return Store.open(self.settings.store_url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def ingest(self, sources: list[str], *, progress: Progress | None = None,
               strict: bool = False, since: date | None = None,
               until: date | None = None) -> list[SourceSummary]:
        return ingest(self.store, sources, settings=self.settings,
                      progress=progress or Silent(), strict=strict, since=since, until=until)

    def stats(self) -> dict[str, int]:
        return self.store.counts()

    def paper(self, paper_id: str) -> dict[str, Any] | None:
        return self.store.paper(paper_id)

    def papers(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        return self.store.papers(limit=limit)
