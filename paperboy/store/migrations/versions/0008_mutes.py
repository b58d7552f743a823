"""Mutes: words, authors and categories a reader never wants to see.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reader_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("reader_id", "kind", "value", name="uq_mutes_reader_kind_value"),
    )
    op.create_index("ix_mutes_reader_id", "mutes", ["reader_id"])


def downgrade() -> None:
    op.drop_index("ix_mutes_reader_id", table_name="mutes")
    op.drop_table("mutes")
