"""Papers, their aliases, embeddings and harvest state.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.tables import Json, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("arxiv_id", sa.String(64), unique=True),
        sa.Column("doi", sa.String(300), index=True),
        sa.Column("title_key", sa.String(500), nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", Json, nullable=False),
        sa.Column("categories", Json, nullable=False),
        sa.Column("primary_category", sa.String(64), index=True),
        sa.Column("published", UTCDateTime, index=True),
        sa.Column("updated", UTCDateTime),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("versions", Json, nullable=False),
        sa.Column("journal_ref", sa.Text),
        sa.Column("comments", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("links", Json, nullable=False),
        sa.Column("extras", Json, nullable=False),
        sa.Column("field_sources", Json, nullable=False),
        sa.Column("sources", Json, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_changed", UTCDateTime, nullable=False, index=True),
    )
    op.create_table(
        "paper_aliases",
        sa.Column("alias", sa.String(300), primary_key=True),
        sa.Column("paper_id", sa.String(300), nullable=False, index=True),
    )
    op.create_table(
        "embeddings",
        sa.Column("paper_id", sa.String(300), primary_key=True),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "harvest_state",
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("value", Json, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("harvest_state", "embeddings", "paper_aliases", "papers"):
        op.drop_table(table)
