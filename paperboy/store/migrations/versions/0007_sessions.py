"""Sessions in the store, so that signing out ends them server-side.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_sessions_reader_id", "sessions", ["reader_id"])


def downgrade() -> None:
    op.drop_index("ix_sessions_reader_id", table_name="sessions")
    op.drop_table("sessions")
