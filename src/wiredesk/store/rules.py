"""The routing rules in force: stored in the database, edited by CLI, admin API or YAML."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wiredesk.pipeline.stages.route import Rule, default_rules, rules_from_data, rules_to_data
from wiredesk.store.models import RoutingRuleset

# Saved rule sets never change (a save is a new row), so each is parsed once per process.
_parsed: dict[tuple[int, Any], list[Rule]] = {}


def current_rules(session: Session) -> list[Rule]:
    """The newest saved rule set, or the shipped defaults when none was ever saved."""
    newest = session.execute(select(RoutingRuleset.id, RoutingRuleset.created_at)
                             .order_by(RoutingRuleset.id.desc()).limit(1)).first()
    if newest is None:
        return default_rules()
    key = (newest.id, newest.created_at)  # ids restart when a database is rebuilt
    if key not in _parsed:
        row = session.get(RoutingRuleset, newest.id)
        assert row is not None
        # As saved: a set saved before a check existed must not stop the pipeline.
        _parsed[key] = rules_from_data(row.rules, refuse_never_matching=False)
    return _parsed[key]


def save_rules(session: Session, rules: Sequence[Rule], source: str) -> int:
    """Put ``rules`` in force (validated first); returns the rule set's id."""
    row = RoutingRuleset(rules=rules_to_data(rules), source=source[:200])
    session.add(row)
    session.flush()
    return row.id


def last_saved_from(session: Session, source_prefix: str) -> list[Rule] | None:
    """The newest rule set saved from a source starting with ``source_prefix``, if any."""
    saved = session.scalars(select(RoutingRuleset.rules)
                            .where(RoutingRuleset.source.startswith(source_prefix, autoescape=True))
                            .order_by(RoutingRuleset.id.desc()).limit(1)).first()
    return None if saved is None else rules_from_data(saved, refuse_never_matching=False)


def history(session: Session, limit: int = 20) -> list[RoutingRuleset]:
    return list(session.scalars(
        select(RoutingRuleset).order_by(RoutingRuleset.id.desc()).limit(limit)))
