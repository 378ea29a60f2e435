"""Routing rules live in the database, edited by CLI, admin API or a YAML applied at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers import PUBLISH_EVERYTHING
from wiredesk.cli import main
from wiredesk.pipeline.stages.route import default_rules, rules_to_data
from wiredesk.services import apply_routing_file
from wiredesk.store.rules import current_rules, history

TOKEN = "s3cret-admin-token"


def cli(config: Any, *args: str) -> Any:
    env = {"DATABASE_URL": config.sqlalchemy_url, "REDIS_URL": config.redis_url}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_defaults_until_someone_saves_rules(database: Any) -> None:
    with database.session() as session:
        assert rules_to_data(current_rules(session)) == rules_to_data(default_rules())


def test_cli_load_show_history(config: Any, database: Any, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(PUBLISH_EVERYTHING)
    assert "rule set 1 in force: 1 rules" in cli(config, "rules", "load", str(path)).output
    assert "publish-all" in cli(config, "rules", "show").output
    assert "cli:rules.yaml" in cli(config, "rules", "history").output
    path.write_text("rules:\n  - {name: x, action: explode, when: {}}\n")
    refused = cli(config, "rules", "load", str(path))
    assert refused.exit_code == 1 and "action" in refused.output
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["publish-all"]  # unchanged


def test_cli_load_of_a_file_that_is_not_yaml_says_where(config: Any, database: Any,
                                                        tmp_path: Path) -> None:
    """An unclosed bracket was a traceback from the YAML parser."""
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: x\n    action: [publish\n")
    refused = cli(config, "rules", "load", str(path))
    assert refused.exit_code == 1 and "rules.yaml" in refused.output and "line" in refused.output
    with database.session() as session:
        assert rules_to_data(current_rules(session)) == rules_to_data(default_rules())



def test_cli_load_of_an_empty_when_means_always(config: Any, database: Any,
                                                 tmp_path: Path) -> None:
    """`when:` with nothing after it (YAML null) was refused; it means what `when: {}` does."""
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: publish-all\n    action: publish\n    when:\n")
    loaded = cli(config, "rules", "load", str(path))
    assert loaded.exit_code == 0, loaded.output
    with database.session() as session:
        [rule] = current_rules(session)
    assert (rule.name, rule.when.is_empty()) == ("publish-all", True)


def test_admin_api_replaces_the_rules(config: Any, database: Any) -> None:
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/admin/api/rules").status_code == 401
    assert [r["name"] for r in client.get("/admin/api/rules", headers=auth).json["data"]] == [
        r.name for r in default_rules()]
    new = {"rules": [{"name": "hold-everything", "action": "review", "when": {}}]}
    assert client.put("/admin/api/rules", json=new, headers=auth).status_code == 200
    bad = {"rules": [{"name": "a", "action": "publish", "when": {"colour": "red"}}]}
    assert client.put("/admin/api/rules", json=bad, headers=auth).status_code == 422
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["hold-everything"]
        assert history(session)[0].source == "admin-api"


def test_routing_file_applied_at_start_up_once(config: Any, database: Any,
                                               tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(PUBLISH_EVERYTHING)
    configured = config.replace(routing_file=str(path))
    assert apply_routing_file(configured) == 1
    assert apply_routing_file(configured) is None  # same rules: no new rule set
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["publish-all"]


def test_a_restart_keeps_an_operators_rule_change(config: Any, database: Any,
                                                 tmp_path: Path) -> None:
    """Every pipeline restart put the routing file back in force over the rules an operator had
    saved since (CLI or admin API): a restart silently undid the change. The file now goes in
    force only when it differs from what was last applied from it; editing the file still
    takes effect at the next start."""
    path = tmp_path / "routing.yaml"
    path.write_text(PUBLISH_EVERYTHING)
    configured = config.replace(routing_file=str(path))
    assert apply_routing_file(configured) == 1
    edited = tmp_path / "edited.yaml"
    edited.write_text("rules:\n  - {name: hold-everything, action: review, when: {}}\n")
    assert cli(config, "rules", "load", str(edited)).exit_code == 0
    assert apply_routing_file(configured) is None  # the restart: the file has not changed
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["hold-everything"]
    path.write_text("# comments and layout are not rules\n" + PUBLISH_EVERYTHING)
    assert apply_routing_file(configured) is None
    path.write_text("rules:\n  - {name: reject-all, action: reject, when: {}}\n")
    assert apply_routing_file(configured) == 3  # the operator changed the file: it goes in force
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["reject-all"]


def test_a_restart_keeps_an_edit_made_over_a_file_of_the_defaults(
        config: Any, database: Any, tmp_path: Path) -> None:
    """A file of the shipped defaults (the rules in force before anyone saves) must count as
    applied too, or the first restart after an operator's edit put the defaults back."""
    from wiredesk.pipeline.stages.route import DEFAULT_RULES_PATH

    configured = config.replace(routing_file=str(DEFAULT_RULES_PATH))
    apply_routing_file(configured)
    edited = tmp_path / "edited.yaml"
    edited.write_text(PUBLISH_EVERYTHING)
    assert cli(config, "rules", "load", str(edited)).exit_code == 0
    assert apply_routing_file(configured) is None
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["publish-all"]


@pytest.mark.parametrize("when, field, says", [
    ({"topic": "medtop:20000000"}, "topic", "not an IPTC Media Topic"),  # a typo of 02000000
    ({"min_length": 500, "max_length": 80}, "max_length", "greater than min_length"),
    ({"language": "english"}, "language", "BCP 47"),
    ({"keyword": "!!!"}, "keyword", "no words"),
])
def test_a_rule_that_could_never_match_is_refused_with_a_clear_error(
        config: Any, database: Any, when: dict[str, Any], field: str, says: str) -> None:
    """These were saved and silently never fired: a review list naming a topic that does not
    exist published what it should have held."""
    from wiredesk.publisher.app import create_app

    app = create_app(config.replace(admin_token=TOKEN))
    app.extensions["wiredesk_db"] = database
    body = {"rules": [{"name": "hold", "action": "review", "when": when}]}
    refused = app.test_client().put("/admin/api/rules", json=body,
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 422
    assert says in json.dumps(refused.json["fields"]["0"]["when"][field])
    with database.session() as session:
        assert rules_to_data(current_rules(session)) == rules_to_data(default_rules())


def test_a_rule_set_saved_before_those_checks_stays_in_force(database: Any) -> None:
    """Refusing it at processing time would fail every article after an upgrade."""
    from wiredesk.store.models import RoutingRuleset

    saved = [{"name": "old", "action": "review", "when": {"topic": ["medtop:20000000"]}}]
    with database.session() as session:
        session.add(RoutingRuleset(rules=saved, source="before-the-checks"))
    with database.session() as session:
        assert [r.name for r in current_rules(session)] == ["old"]
