"""The publisher as a WebSub hub: its subscribers' subscriptions and the pushes made to them.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(2000), nullable=False),
        sa.Column("callback", sa.String(2000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("secret", sa.String(200), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(32), nullable=True),
        sa.Column("request_mode", sa.String(12), nullable=True),
        sa.Column("request_secret", sa.String(200), nullable=True),
        sa.Column("request_lease_seconds", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hub_subscriptions_state_expires", "hub_subscriptions",
                    ["state", "expires_at"])
    op.create_table(
        "hub_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subscription_id", sa.Integer(),
                  sa.ForeignKey("hub_subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("story_id", sa.String(64), nullable=False),
        sa.Column("story_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("story_id", "story_version", "subscription_id",
                            name="uq_hub_deliveries_story_version_subscription"),
    )
    op.create_index("ix_hub_deliveries_status_attempted", "hub_deliveries",
                    ["status", "attempted_at"])
    op.create_index("ix_hub_deliveries_created", "hub_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_hub_deliveries_created", table_name="hub_deliveries")
    op.drop_index("ix_hub_deliveries_status_attempted", table_name="hub_deliveries")
    op.drop_table("hub_deliveries")
    op.drop_index("ix_hub_subscriptions_state_expires", table_name="hub_subscriptions")
    op.drop_table("hub_subscriptions")
