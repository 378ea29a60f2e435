"""Editors' topic corrections: the topics they set on an article, kept as training examples.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.String(64),
                  sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("qcodes", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_topic_corrections_article_id", "topic_corrections", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_topic_corrections_article_id", table_name="topic_corrections")
    op.drop_table("topic_corrections")
