"""Collections: a reader's library becomes named collections, "Library" the default one.

The library table gains a `collection` column in its primary key, so one paper can be in
several collections. Existing rows move to the default collection.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_items",
        sa.Column("reader_id", sa.Integer, primary_key=True),
        sa.Column("collection", sa.String(100), primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )
    op.execute("INSERT INTO library_items (reader_id, collection, paper_id, added_at) "
               "SELECT reader_id, 'Library', paper_id, added_at FROM library")
    op.drop_table("library")
    op.rename_table("library_items", "library")
    if op.get_bind().dialect.name == "postgresql":  # the key keeps its old table's name there
        op.execute("ALTER TABLE library RENAME CONSTRAINT library_items_pkey TO library_pkey")


def downgrade() -> None:
    op.create_table(
        "library_old",
        sa.Column("reader_id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )
    op.execute("INSERT INTO library_old (reader_id, paper_id, added_at) "
               "SELECT reader_id, paper_id, MIN(added_at) FROM library "
               "GROUP BY reader_id, paper_id")
    op.drop_table("library")
    op.rename_table("library_old", "library")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE library RENAME CONSTRAINT library_old_pkey TO library_pkey")
