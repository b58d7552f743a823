"""Embeddings: what ran the model (torch, onnx, onnx-int8), beside its name.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.add_column(sa.Column("backend", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("embeddings") as batch:
        batch.drop_column("backend")
