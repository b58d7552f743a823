"""Readers, follows, library, dismissals, digests, rate-limit attempts and daily runs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import Json, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("confirmed_at", UTCDateTime),
        sa.Column("digest_hour", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("last_digest_at", UTCDateTime),
        sa.Column("bounces", sa.Integer, nullable=False),
        sa.Column("link_uses", sa.Integer, nullable=False),
    )
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reader_id", sa.Integer, nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.Column("filters", Json, nullable=False),
        sa.Column("vector", sa.LargeBinary),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reader_id", "kind", "value", name="uq_follows_reader_kind_value"),
    )
    op.create_table(
        "library",
        sa.Column("reader_id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "dismissals",
        sa.Column("reader_id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "digests",
        sa.Column("reader_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("papers", Json, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "throttle",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, index=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False, index=True),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", Json, nullable=False),
        sa.Column("error", sa.Text),
    )


def downgrade() -> None:
    for table in ("runs", "throttle", "digests", "dismissals", "library", "follows", "readers"):
        op.drop_table(table)
