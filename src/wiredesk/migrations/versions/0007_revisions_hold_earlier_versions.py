"""article_revisions holds only earlier versions: the article's row is the current one.

Drops the history rows that copy an article's current version (every article had one: its
revision 1, or its latest revision). Downgrade writes them back from the rows.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM article_revisions WHERE EXISTS (SELECT 1 FROM articles"
        " WHERE articles.id = article_revisions.article_id"
        " AND articles.revision = article_revisions.revision)")


def downgrade() -> None:
    op.execute(
        "INSERT INTO article_revisions"
        " (article_id, revision, content_hash, title, summary, body_html, created_at)"
        " SELECT id, revision, content_hash, title, summary, body_html,"
        " COALESCE(fetched_at, created_at)"
        " FROM articles")
