"""`paperboy signals refresh`: a star snapshot of every code repository papers link to.

Each repository is checked once per run, with the ETag of its last check (an unchanged one
costs GitHub nothing against the rate limit), and its stars are recorded as an observation for
every paper linking it. A moved repository is recorded with its new name (and its stars, from
the new place, still count for the papers that link the old one); a vanished one as gone, and not
asked again. A repository created less than `NEW_REPO_DAYS` before its first check is taken to
have started from zero stars at its creation, so a new paper's new repository can trend on its
first check; an older one's first count is only a baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from paperboy.models import Filters, Signal
from paperboy.progress import Progress
from paperboy.signals.github import GitHubStars, RepoCheck, repo_name
from paperboy.sources.http import HostUnreachable
from paperboy.store import Store
from paperboy.store.filters import paper_filters
from paperboy.store.tables import papers

NEW_REPO_DAYS = 30


@dataclass
class RefreshSummary:
    repositories: int = 0
    updated: int = 0  # new star counts recorded
    unchanged: int = 0
    moved: int = 0
    gone: int = 0
    failed: int = 0
    skipped_gone: int = 0  # known to be gone from an earlier run
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def linked_repositories(store: Store) -> dict[str, list[str]]:
    """owner/name -> ids of the papers whose code links point at it."""
    found: dict[str, list[str]] = {}
    query = select(papers.c.id, papers.c.links).where(
        *paper_filters(store.engine.dialect.name, Filters(has_code=True)))
    with store.engine.connect() as conn:
        for paper_id, links in conn.execute(query):
            for url in links.get("code") or ():
                repo = repo_name(url)
                if repo and paper_id not in found.setdefault(repo, []):
                    found[repo].append(paper_id)
    return found


def refresh_stars(store: Store, checker: GitHubStars, progress: Progress, *,
                  limit: int | None = None) -> RefreshSummary:
    """Check every linked repository (the `limit` least recently checked first)."""
    linked = linked_repositories(store)
    known = store.signals.repositories()
    summary = RefreshSummary()
    never = datetime.min.replace(tzinfo=UTC)
    due = []
    for repo in sorted(linked, key=lambda r: (known[r]["checked_at"] if r in known else never)):
        if known.get(repo, {}).get("status") == "gone":
            summary.skipped_gone += 1
        else:
            due.append(repo)
    due = due[:limit] if limit is not None else due
    progress.start("checking GitHub stars", total=len(due), unit="repos")
    for done, repo in enumerate(due, start=1):
        before = known.get(repo)
        try:
            check = checker.check(repo, before.get("etag") if before else None)
        except HostUnreachable as error:  # offline: the rest would fail the same way
            left = len(due) - done + 1
            summary.failed += left
            summary.errors.append(f"{error}; {left:,} repositories not checked")
            break
        _record(store, check, linked[repo], first=before is None or before["stars"] is None)
        summary.repositories += 1
        _count(summary, check)
        progress.update(done)
    progress.finish()
    return summary


def _record(store: Store, check: RepoCheck, paper_ids: list[str], *, first: bool) -> None:
    signals: list[Signal] = []
    if check.stars is not None:
        created = check.created_at
        if first and created is not None and timedelta(0) <= check.checked_at - created <= \
                timedelta(days=NEW_REPO_DAYS):
            signals.append(Signal("stars", check.repo, created, 0))
        signals.append(Signal("stars", check.repo, check.checked_at, check.stars))
    row = {"repo": check.repo, "status": check.status, "stars": check.stars,
           "etag": check.etag, "moved_to": check.moved_to, "created_at": check.created_at,
           "checked_at": check.checked_at, "error": check.error}
    with store.transaction() as conn:
        if check.status == "unchanged" or (check.status == "failed" and check.stars is None):
            kept = store.signals.repositories().get(check.repo)
            if kept is not None:  # keep what the last good answer said
                row |= {key: kept[key] for key in ("stars", "created_at", "moved_to")}
                row["etag"] = check.etag or kept["etag"]
        store.signals.save_check(conn, row)
        if signals:
            store.signals.observe(conn, [(paper_id, signal) for paper_id in paper_ids
                                         for signal in signals])


def _count(summary: RefreshSummary, check: RepoCheck) -> None:
    if check.status == "ok":
        summary.updated += 1
    elif check.status == "failed":
        summary.failed += 1
        if len(summary.errors) < 50 and check.error:
            summary.errors.append(check.error)
    else:
        setattr(summary, check.status, getattr(summary, check.status) + 1)


def waiting_note(progress: Progress) -> Callable[[float, str], None]:
    """An `on_wait` for GitHubStars that tells the watcher why and how long it pauses."""

    def note(seconds: float, reason: str) -> None:
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        progress.note(f"waiting {seconds:,.0f} s (until {until:%H:%M:%S} UTC): {reason}")

    return note
