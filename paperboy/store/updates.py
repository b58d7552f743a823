"""What changed in a stored paper that a reader who saved it wants to hear of: a new version,
a first code link, a journal reference or a venue. `changes` tells them from the row before
and after a merge (pure); the batch records them as it writes (store/batch.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from paperboy.store import tables

__all__ = ["PaperUpdates", "changes"]

_updates = tables.paper_updates


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, what) for each change worth telling: a higher version, the first code link, a
    journal reference, a venue where there was none."""
    found = []
    if (after.get("version") or 0) > (before.get("version") or 0) and before.get("version"):
        found.append(("version", f"new version v{after['version']}"))
    code_before = (before.get("links") or {}).get("code") or []
    code_after = (after.get("links") or {}).get("code") or []
    if code_after and not code_before:
        found.append(("code", f"code published: {code_after[0]}"))
    if after.get("journal_ref") and not before.get("journal_ref"):
        found.append(("journal", f"published: {after['journal_ref']}"))
    venue = ((after.get("extras") or {}).get("s2") or {}).get("venue")
    if venue and not ((before.get("extras") or {}).get("s2") or {}).get("venue"):
        found.append(("venue", f"venue: {venue}"))
    return found


class PaperUpdates:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def of(self, paper_ids: Sequence[str], *, since: datetime | None = None
           ) -> list[dict[str, Any]]:
        """The updates of these papers (after `since`), oldest first."""
        if not paper_ids:
            return []
        query = select(_updates).where(_updates.c.paper_id.in_(list(paper_ids)))
        if since is not None:
            query = query.where(_updates.c.at > since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(_updates.c.at,
                                                                          _updates.c.id))]
