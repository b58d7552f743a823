"""papers.published_precision, and first-published dates for the papers no source dated.

A Kaggle record without versions has no first-published date; its arXiv id gives the month (and
its last-update day, the day, when that falls in the same month). See `derived_published`.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.merge import DERIVED, derived_published
from paperboy.store.tables import Json, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_papers = sa.table("papers", sa.column("id", sa.String), sa.column("arxiv_id", sa.String),
                   sa.column("published", UTCDateTime), sa.column("updated", UTCDateTime),
                   sa.column("published_precision", sa.String),
                   sa.column("field_sources", Json))


def upgrade() -> None:
    op.add_column("papers", sa.Column("published_precision", sa.String(8)))
    conn = op.get_bind()
    undated = conn.execute(sa.select(_papers.c.id, _papers.c.arxiv_id, _papers.c.updated,
                                     _papers.c.field_sources)
                           .where(_papers.c.published.is_(None),
                                  _papers.c.arxiv_id.is_not(None))).all()
    for row in undated:
        when, precision = derived_published(row.arxiv_id, row.updated)
        if when is not None:
            sources = {**row.field_sources,
                       "published": {"source": DERIVED, "version": 0, "at": None}}
            conn.execute(_papers.update().where(_papers.c.id == row.id).values(
                published=when, published_precision=precision, field_sources=sources))


def downgrade() -> None:
    op.drop_column("papers", "published_precision")
