"""An index on papers.first_seen: a digest run reads the papers first seen since a moment.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_first_seen", "papers", ["first_seen"])


def downgrade() -> None:
    op.drop_index("ix_papers_first_seen", table_name="papers")
