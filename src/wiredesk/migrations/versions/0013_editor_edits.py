"""Editors' edits: which editor wrote a version of an article (NULL: the feed's own copy), on
the current row and on each earlier version in the history.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("articles", "article_revisions")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("edited_by", sa.String(100), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        drop_column(table, "edited_by")
