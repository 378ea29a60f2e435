"""The editors' desk: editor accounts (password hashes) and the audit trail of what they did.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("editor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=True),
        sa.Column("story_id", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_log_article_id", "audit_log", ["article_id"])
    op.create_index("ix_audit_log_story_id", "audit_log", ["story_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_story_id", table_name="audit_log")
    op.drop_index("ix_audit_log_article_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("editors")
