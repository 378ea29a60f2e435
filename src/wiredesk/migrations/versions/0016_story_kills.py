"""Editors kill published stories: a killed story keeps its row (status ``retracted``), when it
was killed, and what it was filed under, so its URI says it is canceled and the feeds that held
it tell their subscribers.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stories", sa.Column("killed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stories", sa.Column("last_shown", sa.JSON(), nullable=True))


def downgrade() -> None:
    for column in ("last_shown", "killed_at"):
        drop_column("stories", column)
