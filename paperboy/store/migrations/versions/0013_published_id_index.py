"""Papers are indexed by (published, id), the order every listing pages through, newest first.

Read backwards, the index gives a page of the newest papers (a day's ties by id) without
sorting the table; it replaces the index on published alone, whose ranges it also serves.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_published_id", "papers", ["published", "id"])
    op.drop_index("ix_papers_published", table_name="papers")


def downgrade() -> None:
    op.create_index("ix_papers_published", "papers", ["published"])
    op.drop_index("ix_papers_published_id", table_name="papers")
