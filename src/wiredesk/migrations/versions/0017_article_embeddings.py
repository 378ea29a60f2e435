"""Tier 3's sentence embedding of each article (WIREDESK_DEDUPE_SEMANTIC): computed once when
the article is processed, read when it is a candidate of later ones. Empty unless the setting
is on; a nullable column without a default, so adding it rewrites no row.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("embedding", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    drop_column("articles", "embedding")
