"""Every fetch outcome the ingester can report is declared in metrics.FETCH_OUTCOMES.

The declared list pre-creates the counter's series and the alert rules name them: an outcome
added in code but not declared would be counted under a series no dashboard or alert knows.
"""

from __future__ import annotations

import ast
from pathlib import Path

from wiredesk import metrics

INGESTER = Path(__file__).resolve().parents[2] / "src" / "wiredesk" / "ingester"


def _outcomes_in_code() -> set[str]:
    found: set[str] = set()
    for path in INGESTER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # FetchError("timeout", ...) / ParseError("parse_error", ...)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in {"FetchError", "ParseError"} and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
            # outcome = "a" if ... else "b"; report.outcome = "not_modified"
            if isinstance(node, ast.Assign) and any(
                (isinstance(t, ast.Name) and t.id == "outcome")
                or (isinstance(t, ast.Attribute) and t.attr == "outcome"
                    and isinstance(t.value, ast.Name) and t.value.id == "report")
                for t in node.targets
            ) and path.name in {"fetch.py", "tasks.py"}:
                values = [node.value.body, node.value.orelse] if isinstance(
                    node.value, ast.IfExp) else [node.value]
                found |= {v.value for v in values if isinstance(v, ast.Constant)}
    return found


def test_every_outcome_in_code_is_declared() -> None:
    found = _outcomes_in_code()
    assert {"timeout", "too_large", "blocked", "unsafe_xml", "not_modified"} <= found  # it looks
    full_text_only = {"empty"}  # outcomes of the full-text fetch (its own counter)
    assert found - full_text_only <= set(metrics.FETCH_OUTCOMES), found - set(
        metrics.FETCH_OUTCOMES)
