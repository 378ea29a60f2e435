"""Keep each entry's dates as the feed wrote them, and what parsing had to assume.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("published_raw", sa.String(200), nullable=True))
        batch.add_column(sa.Column("updated_raw", sa.String(200), nullable=True))
        batch.add_column(sa.Column("date_flags", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("date_flags")
        batch.drop_column("updated_raw")
        batch.drop_column("published_raw")
