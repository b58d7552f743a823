"""Embeddings are indexed by model: counting a model's vectors (every /healthz, and each time
the vector index is opened) read every stored vector before, 28 ms at 33k papers and about
1.5 GB of rows at a million; the index answers it from its own entries (2 ms at 33k).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_embeddings_model", "embeddings", ["model"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_model", table_name="embeddings")
