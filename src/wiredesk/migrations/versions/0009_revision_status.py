"""The status each earlier version had when the next replaced it, so that an editor rejecting
a revision of a published article can bring the published version back.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("article_revisions", sa.Column("status", sa.String(20), nullable=True))


def downgrade() -> None:
    drop_column("article_revisions", "status")
