"""Trending signals: events, current votes, GitHub repository checks.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signal_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("dated", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("gain", sa.Integer, nullable=False),
        sa.UniqueConstraint("paper_id", "kind", "key", "at", name="uq_signal_events_series_at"),
    )
    op.create_index("ix_signal_events_window", "signal_events",
                    ["dated", "at", "paper_id", "kind", "gain"])
    op.create_table(
        "votes",
        sa.Column("reader", sa.String(300), primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("voted_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "repositories",
        sa.Column("repo", sa.String(300), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stars", sa.Integer),
        sa.Column("etag", sa.String(300)),
        sa.Column("moved_to", sa.String(300)),
        sa.Column("created_at", UTCDateTime),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.Column("error", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("repositories")
    op.drop_table("votes")
    op.drop_table("signal_events")
