"""What the stages made of each earlier version (topics, language, entities, keywords,
dateline), so that the version consumers keep seeing while a revision waits for an editor, or
comes back when the editor rejects it, carries its own.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = (
    sa.Column("language", sa.String(35), nullable=True),
    sa.Column("language_confidence", sa.Float(), nullable=True),
    sa.Column("entities", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("keywords", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("dateline", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("categories", sa.JSON(none_as_null=True), nullable=True),
)


def upgrade() -> None:
    # Earlier versions keep NULL: what the stages made of them was not kept.
    for column in COLUMNS:
        op.add_column("article_revisions", column)


def downgrade() -> None:
    for column in COLUMNS:
        drop_column("article_revisions", column.name)
