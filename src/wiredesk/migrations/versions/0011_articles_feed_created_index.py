"""A feed's articles by creation time, in place of the index of feed_id alone: dedupe reads
each processed article's feed's most recent ones (its boilerplate), and a feed of thousands
of articles in the window was read and sorted whole for it. As many indexes to keep up on
every ingested article as before.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_feed_created", "articles", ["feed_id", "created_at"])
    op.drop_index("ix_articles_feed_id", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_feed_id", "articles", ["feed_id"])
    op.drop_index("ix_articles_feed_created", table_name="articles")
