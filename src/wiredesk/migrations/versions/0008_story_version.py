"""A story's ninjs version as a counter that only moves forward.

It was derived from the sources shown (highest revision + number of sources - 1): it went back
when a source was removed and stood still on a topic correction. Existing stories start from
that formula over all their articles, so no consumer sees a version lower than before.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from wiredesk.store.migration_ops import drop_column

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stories", sa.Column("version", sa.Integer(), nullable=False,
                                       server_default="1"))
    op.execute(
        "UPDATE stories SET version = COALESCE((SELECT MAX(a.revision) + COUNT(*) - 1"
        " FROM articles a WHERE a.story_id = stories.id), 1)")


def downgrade() -> None:
    drop_column("stories", "version")
