"""Paper updates: a new version, a first code link, a journal reference or a venue.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_paper_updates_paper_id", "paper_updates", ["paper_id"])
    op.create_index("ix_paper_updates_at", "paper_updates", ["at"])


def downgrade() -> None:
    op.drop_index("ix_paper_updates_at", table_name="paper_updates")
    op.drop_index("ix_paper_updates_paper_id", table_name="paper_updates")
    op.drop_table("paper_updates")
