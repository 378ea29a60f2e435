"""Editors merge stories: a story merged into another keeps its row (status ``merged``) and
names the story it went into, so an article still pointed at it (by the near-duplicate index,
or a worker that chose it before the merge) joins the story it went into.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stories", sa.Column("merged_into", sa.String(64), nullable=True))


def downgrade() -> None:
    drop_column("stories", "merged_into")
