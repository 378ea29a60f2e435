"""feed registry: per-feed reading rules, scheduling state, redirects, WebSub

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW_COLUMNS = (
    ("date_zone", sa.String(length=64), False, "UTC"),
    ("identity_rule", sa.String(length=10), False, "guid"),
    ("full_text", sa.Boolean(), False, sa.false()),
    ("schedule_reason", sa.String(length=20), True, None),
    ("last_error_at", sa.DateTime(timezone=True), True, None),
    ("redirected_from", sa.String(length=2000), True, None),
    ("redirected_at", sa.DateTime(timezone=True), True, None),
    ("websub_hub", sa.String(length=2000), True, None),
    ("websub_topic", sa.String(length=2000), True, None),
    ("websub_secret", sa.String(length=128), True, None),
    ("websub_state", sa.String(length=20), True, None),
    ("websub_requested_at", sa.DateTime(timezone=True), True, None),
    ("websub_lease_expires_at", sa.DateTime(timezone=True), True, None),
    ("websub_last_push_at", sa.DateTime(timezone=True), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        for name, type_, nullable, default in _NEW_COLUMNS:
            # server_default fills existing rows; the ORM supplies values from then on.
            server_default = default if default is None or not isinstance(default, str) else sa.text(f"'{default}'")
            batch_op.add_column(sa.Column(name, type_, nullable=nullable, server_default=server_default))
        batch_op.create_index("ix_feeds_enabled_next_fetch", ["enabled", "next_fetch_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_index("ix_feeds_enabled_next_fetch")
        for name, *_ in reversed(_NEW_COLUMNS):
            batch_op.drop_column(name)
