"""The store's tables (SQLAlchemy Core). The schema itself is created by Alembic migrations in
`migrations/`; a test checks that these definitions and the migrated database agree.

A paper row carries what every source agreed on after merging (`merge.py`), plus `field_sources`
(which source gave each field, at which version, when) and `sources` (every source that has seen
the paper, with the first time it did).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, stored naive-UTC on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware ones")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("arxiv_id", String(64), unique=True),
    Column("doi", String(300), index=True),
    Column("title_key", String(500), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Json, nullable=False),
    Column("categories", Json, nullable=False),
    Column("primary_category", String(64), index=True),
    Column("published", UTCDateTime),
    # None: a source's own date; "day" or "month": worked out from the arXiv id (store/merge.py)
    Column("published_precision", String(8)),
    Column("updated", UTCDateTime),
    Column("version", Integer, nullable=False, default=0),
    Column("versions", Json, nullable=False),
    Column("journal_ref", Text),
    Column("comments", Text),
    Column("license", Text),
    Column("links", Json, nullable=False),
    Column("extras", Json, nullable=False),
    Column("field_sources", Json, nullable=False),
    Column("sources", Json, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False, index=True),  # what a digest calls new
    Column("last_changed", UTCDateTime, nullable=False, index=True),
    # listings (newest first, ties by id) read it backwards; date filters read its ranges
    Index("ix_papers_published_id", "published", "id"),
)

# When a paper first known by its title (or DOI) later gets an arXiv id, its id changes to the
# better one; the old id stays resolvable here so links and references never break.
paper_aliases = Table(
    "paper_aliases",
    metadata,
    Column("alias", String(300), primary_key=True),
    Column("paper_id", String(300), nullable=False, index=True),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(300), primary_key=True),
    Column("model", String(300), nullable=False),
    # what ran the model: torch, onnx, onnx-int8 (the same model's vectors; None: not known)
    Column("backend", String(32)),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    # its passages' vectors (embed/passages.py), float16 rows of `dim`; None: not embedded
    Column("passages", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    # how many vectors a model has (/healthz, opening the vector index) without reading them
    Index("ix_embeddings_model", "model"),
)

# Resumable work: OAI-PMH resumption tokens and last harvested dates, file ingest checkpoints.
harvest_state = Table(
    "harvest_state",
    metadata,
    Column("key", String(500), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Trending signals as a history of events (see paperboy/signals/trending.py). `value` is what was
# observed (a repository's stars, a paper's Hugging Face upvote count, +1/-1 for a local vote);
# `gain` is the change it brings over the previous event of its series (paper, kind, key), kept
# up to date on every write so ranking is one indexed range scan. `at` is when the event
# happened (what `--at` filters on); `dated` is when it counts for windows and decay: the same,
# except for a withdrawn vote, which is dated at the vote it cancels. Both are epoch seconds.
signal_events = Table(
    "signal_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(300), nullable=False),
    Column("kind", String(16), nullable=False),  # vote | hf_upvotes | stars
    Column("key", String(300), nullable=False),  # reader for votes, owner/name for stars
    Column("at", BigInteger, nullable=False),
    Column("dated", BigInteger, nullable=False),
    Column("value", Integer, nullable=False),
    Column("gain", Integer, nullable=False),
    UniqueConstraint("paper_id", "kind", "key", "at", name="uq_signal_events_series_at"),
    # Covers the window query: a range of `dated` is summed without touching the table (3.5x).
    Index("ix_signal_events_window", "dated", "at", "paper_id", "kind", "gain"),
)

# Who upvotes what now (one vote per reader per paper); the history is in signal_events.
votes = Table(
    "votes",
    metadata,
    Column("reader", String(300), primary_key=True),
    Column("paper_id", String(300), primary_key=True),
    Column("voted_at", UTCDateTime, nullable=False),
)

# The last check of each GitHub repository: for conditional requests and for moved/gone repos.
repositories = Table(
    "repositories",
    metadata,
    Column("repo", String(300), primary_key=True),  # owner/name, as papers link it
    Column("status", String(16), nullable=False),  # ok | unchanged | moved | gone | failed
    Column("stars", Integer),
    Column("etag", String(300)),
    Column("moved_to", String(300)),
    Column("created_at", UTCDateTime),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("error", Text),
)

# What changed in a stored paper that its readers want to hear of (store/updates.py)
paper_updates = Table(
    "paper_updates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(300), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # version | code | journal | venue
    Column("detail", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False, index=True),
)

# Readers (paperboy/readers/): who subscribed, what they follow and keep, and their digests.
readers = Table(
    "readers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # lower-cased
    Column("status", String(16), nullable=False),  # pending | active | paused | bounced
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("digest_hour", Integer, nullable=False, default=7),  # local hour, 0-23
    Column("timezone", String(64), nullable=False, default="UTC"),  # IANA name
    Column("last_digest_at", UTCDateTime),  # papers first seen after this are "new"
    Column("bounces", Integer, nullable=False, default=0),  # permanent failures in a row
    Column("link_uses", Integer, nullable=False, default=0),  # sign-in links used so far
    # the private feeds' address is signed with this; a new one revokes the old address
    Column("feed_generation", Integer, nullable=False, default=0, server_default="0"),
)

mutes = Table(  # what a reader never wants to see: a word, an author or a category
    "mutes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader_id", Integer, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # word | author | category
    Column("value", String(500), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("reader_id", "kind", "value", name="uq_mutes_reader_kind_value"),
)

follows = Table(
    "follows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader_id", Integer, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # query | category | author
    Column("value", String(500), nullable=False),
    Column("filters", Json, nullable=False),  # for queries: date range, category, has code
    Column("vector", LargeBinary),  # the query's embedding, for matching by meaning
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("reader_id", "kind", "value", name="uq_follows_reader_kind_value"),
)

# A reader's saved papers ("library"), each in one or more named collections, and the papers
# they asked not to see again.
library = Table(
    "library",
    metadata,
    Column("reader_id", Integer, primary_key=True),
    Column("collection", String(100), primary_key=True),
    Column("paper_id", String(300), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)

dismissals = Table(
    "dismissals",
    metadata,
    Column("reader_id", Integer, primary_key=True),
    Column("paper_id", String(300), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
)

# One row per reader per local day, written before the send and confirmed after: the primary
# key makes a second digest that day impossible, whatever crashes or runs twice.
digests = Table(
    "digests",
    metadata,
    Column("reader_id", Integer, primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD in the reader's time zone
    Column("status", String(16), nullable=False),  # sending | sent | failed | empty
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("papers", Json, nullable=False),
    Column("error", Text),
)

# Attempts counted for rate limits (subscribe and sign-in, per address and per client).
# Signed-in sessions (store/sessions.py): the hash of each cookie's token, so signing out ends it.
sessions = Table(
    "sessions",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("reader_id", Integer, nullable=False, index=True),
    Column("started_at", UTCDateTime, nullable=False),
)

throttle = Table(
    "throttle",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
)

# Each step of each daily run (harvest, signals, embed, digest): what `paperboy status` shows.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("step", String(32), nullable=False),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("counts", Json, nullable=False),
    Column("error", Text),
)

# Which process may do a piece of shared work now (the daily chain, sending digests), across
# replicas on one database: see leases.py.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(300), nullable=False),  # hostname:pid:random of the process
    Column("expires_at", UTCDateTime, nullable=False),
)
