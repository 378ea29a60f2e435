"""Operations the migrations share."""

from __future__ import annotations

from alembic import op


def drop_column(table: str, column: str) -> None:
    """Drop a column in place. On SQLite not in Alembic's batch mode: that copies the table,
    and dropping the old one cascades to every row referring to it (foreign keys on), e.g.
    every article's revisions. SQLite 3.35+ drops a column itself."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
