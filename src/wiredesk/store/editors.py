"""Desk accounts and the audit trail: who may log in, and what each editor did."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from wiredesk.store import models

MIN_PASSWORD_LENGTH = 10
# Letters (any script), digits, and . _ @ -: a name shown in the audit trail and routing reasons.
_NAME = re.compile(r"[\w.@-]{1,100}")
# Checked when no editor has the name, so a wrong name costs as long as a wrong password.
_NO_SUCH_EDITOR = generate_password_hash("no such editor")


class EditorExists(ValueError):
    """An editor of that name exists already."""


class EditorNameRefused(ValueError):
    """A name the audit trail cannot keep (blank, or longer than its column)."""


# The audit trail's column for who did it.
EDITOR_NAME_LIMIT: int = models.AuditEntry.__table__.c.editor.type.length


def check_editor_name(editor: str) -> str:
    """``editor`` as the audit trail keeps it (stripped); EditorNameRefused when it cannot. Call
    it before changing anything, so a refused name leaves nothing half done."""
    editor = editor.strip()
    if not 0 < len(editor) <= EDITOR_NAME_LIMIT:
        raise EditorNameRefused(f"the editor's name must be 1-{EDITOR_NAME_LIMIT} characters")
    return editor


def check_new_editor(name: str, password: str) -> None:
    """Raise ValueError saying what is wrong with a new editor's name or password."""
    if not _NAME.fullmatch(name):
        raise ValueError("an editor's name is 1-100 letters, digits, '.', '_', '@' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def add_editor(session: Session, name: str, password: str, replace: bool = False) -> models.Editor:
    """Create an editor (or, with ``replace``, give an existing one this new password)."""
    check_new_editor(name, password)
    row = session.scalar(select(models.Editor).where(models.Editor.name == name))
    if row is not None and not replace:
        raise EditorExists(f"editor {name} exists")
    if row is None:
        row = models.Editor(name=name)
        session.add(row)
    row.password_hash = generate_password_hash(password)
    session.flush()
    return row


def remove_editor(session: Session, name: str) -> bool:
    """Delete an account (its audit trail stays); False when there is none of that name."""
    row = session.scalar(select(models.Editor).where(models.Editor.name == name))
    if row is None:
        return False
    session.delete(row)
    return True


def list_editors(session: Session) -> list[models.Editor]:
    return list(session.scalars(select(models.Editor).order_by(models.Editor.name)))


def authenticate(session: Session, name: str, password: str) -> str | None:
    """The editor's name when ``password`` is theirs, else None (whether or not the name exists)."""
    row = session.scalar(select(models.Editor).where(models.Editor.name == name[:100]))
    if row is None:
        check_password_hash(_NO_SUCH_EDITOR, password)
        return None
    return row.name if check_password_hash(row.password_hash, password) else None


def is_editor(session: Session, name: str) -> bool:
    """The account still exists (a session outlives nothing its editor lost)."""
    return session.scalar(select(models.Editor.id).where(models.Editor.name == name)) is not None


def audit(session: Session, editor: str, action: str, article_id: str | None = None,
          story_id: str | None = None, note: str = "") -> None:
    """Record one action in the audit trail, in the caller's transaction: the action and its
    entry commit together or not at all, whichever channel (desk, admin API, CLI) took it."""
    session.add(models.AuditEntry(editor=check_editor_name(editor), action=action,
                                  article_id=article_id,
                                  story_id=story_id, note=note))


def audit_trail(session: Session, article_id: str) -> list[models.AuditEntry]:
    """What editors did to an article, oldest first."""
    return list(session.scalars(
        select(models.AuditEntry).where(models.AuditEntry.article_id == article_id)
        .order_by(models.AuditEntry.created_at, models.AuditEntry.id)))
