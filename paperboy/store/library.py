"""Readers' libraries in the store: saved papers, each in one or more named collections.

A collection exists while it holds a paper, as tags do in arxiv-sanity-lite; the default one,
`DEFAULT`, is where a paper goes when no collection is named, and is always listed. Renaming
and merging move rows; a paper already in the target collection keeps its older row. Deleting
a collection removes its rows only: a paper also in another collection stays there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from paperboy.store import tables

DEFAULT = "Library"
NAME_LENGTH = 100

_library = tables.library


class CollectionError(ValueError):
    """A collection name that cannot be used, or an operation the collections do not allow."""


class CollectionNotFound(CollectionError):
    """The reader has no collection of that name."""


def collection_name(name: str | None) -> str:
    """The name as stored: whitespace collapsed, the default for an empty or missing name."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        return DEFAULT
    if len(cleaned) > NAME_LENGTH:
        raise CollectionError(f"a collection name has at most {NAME_LENGTH} characters, "
                              f"got {len(cleaned)}")
    if any(not ch.isprintable() for ch in cleaned):
        raise CollectionError("a collection name cannot hold control characters")
    return cleaned


def in_order(names: Iterable[str]) -> list[str]:
    """Collection names as a reader sees them: the default first (always), then by name."""
    return [DEFAULT, *sorted({n for n in names if n != DEFAULT}, key=str.lower)]


class Library:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, reader_id: int, paper_id: str, now: datetime,
             collection: str | None = None) -> bool:
        """Save a paper in a collection (the default one unless named); False when it was
        already there."""
        try:
            with self.engine.begin() as conn:
                conn.execute(_library.insert().values(
                    reader_id=reader_id, collection=collection_name(collection),
                    paper_id=paper_id, added_at=now))
        except IntegrityError:
            return False
        return True

    def unsave(self, reader_id: int, paper_id: str, collection: str | None = None) -> None:
        """Take a paper out of one collection, or out of all of them when none is named."""
        where = [_library.c.reader_id == reader_id, _library.c.paper_id == paper_id]
        if collection is not None:
            where.append(_library.c.collection == collection_name(collection))
        with self.engine.begin() as conn:
            conn.execute(delete(_library).where(*where))

    def papers(self, reader_id: int, collection: str | None = None) -> list[str]:
        """Saved papers of one collection, or of the whole library, newest first, each once."""
        query = (select(_library.c.paper_id).where(_library.c.reader_id == reader_id)
                 .group_by(_library.c.paper_id)
                 .order_by(func.max(_library.c.added_at).desc(), _library.c.paper_id))
        if collection is not None:
            query = query.where(_library.c.collection == collection_name(collection))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def collections(self, reader_id: int) -> dict[str, int]:
        """Each collection's name and paper count: the default first, then by name."""
        with self.engine.connect() as conn:
            counts: dict[str, int] = dict(conn.execute(
                select(_library.c.collection, func.count())
                .where(_library.c.reader_id == reader_id).group_by(_library.c.collection)).all())
        return {name: counts.get(name, 0) for name in in_order(counts)}

    def existing(self, reader_id: int, name: str) -> str:
        """The stored name of one of the reader's collections; CollectionNotFound if none."""
        stored = collection_name(name)
        if stored not in self.collections(reader_id):
            raise CollectionNotFound(f"you have no collection named {stored!r}")
        return stored

    def of_paper(self, reader_id: int, paper_id: str) -> list[str]:
        """The collections holding this paper."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(_library.c.collection).where(
                _library.c.reader_id == reader_id, _library.c.paper_id == paper_id)).scalars())

    def of_readers(self, reader_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
        """For each reader with a library: collection name -> its paper ids."""
        found: dict[int, dict[str, list[str]]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(reader_ids), 5000):
                chunk = list(reader_ids[start:start + 5000])
                for rid, name, pid in conn.execute(
                        select(_library.c.reader_id, _library.c.collection, _library.c.paper_id)
                        .where(_library.c.reader_id.in_(chunk))
                        .order_by(_library.c.reader_id, _library.c.collection,
                                  _library.c.added_at)):
                    found.setdefault(rid, {}).setdefault(name, []).append(pid)
        return found

    def rename(self, reader_id: int, old: str, new: str) -> None:
        """Give a collection a new name; renaming onto an existing collection merges them."""
        self.merge(reader_id, old, new)

    def merge(self, reader_id: int, source: str, target: str) -> int:
        """Move every paper of `source` into `target` (created if need be); `source` is then
        empty. Returns how many papers `target` gained."""
        source, target = collection_name(source), collection_name(target)
        if source == target:
            return 0
        with self.engine.begin() as conn:
            names = set(conn.execute(select(_library.c.collection).where(
                _library.c.reader_id == reader_id).distinct()).scalars())
            if source not in names:
                raise CollectionNotFound(f"you have no collection named {source!r}")
            there = select(_library.c.paper_id).where(_library.c.reader_id == reader_id,
                                                      _library.c.collection == target)
            moved = conn.execute(update(_library).where(
                _library.c.reader_id == reader_id, _library.c.collection == source,
                _library.c.paper_id.not_in(there)).values(
                collection=target)).rowcount
            conn.execute(delete(_library).where(_library.c.reader_id == reader_id,
                                                _library.c.collection == source))
        return moved

    def delete(self, reader_id: int, collection: str) -> int:
        """Remove a collection and its rows (papers in other collections stay there); returns
        how many rows went. The default collection is emptied, and stays listed."""
        with self.engine.begin() as conn:
            return conn.execute(delete(_library).where(
                _library.c.reader_id == reader_id,
                _library.c.collection == collection_name(collection))).rowcount
