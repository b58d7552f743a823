"""Embeddings: the vectors of each paper's passages (`embed/passages.py`), beside its own.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.add_column(sa.Column("passages", sa.LargeBinary))


def downgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.drop_column("passages")
