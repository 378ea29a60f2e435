"""Routing rules: each condition alone, rule order, unless, defaults, YAML round trip."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from wiredesk.pipeline.stages.route import (
    Condition,
    FeedInfo,
    RoutingDecision,
    Rule,
    apply_decision,
    default_rules,
    dump_rules,
    load_rules,
    route,
    rules_from_data,
    rules_to_data,
)
from wiredesk.schemas import Article, Category, Entity

TRUSTED = FeedInfo(id=7, name="Agence Wire FR", trust="auto", language="fr")
UNTRUSTED = FeedInfo(id=9, name="Community blog", trust="review", language="en")
BODY = "Le gouvernement a présenté mardi un projet de loi sur l'énergie. " * 3


def article(**changes: object) -> Article:
    base = Article(
        id="a1", feed_id=7, guid="g1", url="https://example.org/a1", title="Projet de loi",
        content_hash="c1", body_text=BODY, language="fr",
        categories=[Category("medtop:11000000", "politique", 0.82)],
    )
    return base.replace(**changes)


def holds(condition: Condition, art: Article | None = None, feed: FeedInfo = TRUSTED) -> bool:
    return condition.explain(art or article(), feed) is not None


def test_feed_by_id_or_name_pattern() -> None:
    assert holds(Condition(feed=("7",)))
    assert holds(Condition(feed=("agence wire*",)))
    assert not holds(Condition(feed=("9", "community*")))


def test_trust() -> None:
    assert holds(Condition(trust="auto"))
    assert not holds(Condition(trust="auto"), feed=UNTRUSTED)


def test_language_uses_primary_subtag_and_none() -> None:
    assert holds(Condition(language=("fr",)), article(language="fr-CA"))
    assert not holds(Condition(language=("en",)))
    assert holds(Condition(language=("none",)), article(language=None))


def test_topic_with_score_and_descendants() -> None:
    assert holds(Condition(topic=("medtop:11000000",)))
    assert holds(Condition(topic=("medtop:11000000",), min_score=0.8))
    assert not holds(Condition(topic=("medtop:11000000",), min_score=0.9))
    assert not holds(Condition(topic=("medtop:15000000",)))
    # A level-2 category matches a rule on its top-level topic.
    sub = article(categories=[Category("medtop:20000002", "arts and entertainment", 0.6)])
    assert holds(Condition(topic=("medtop:01000000",)), sub)
    assert not holds(Condition(topic=("medtop:11000000",)), sub)


def test_min_score_without_topic_uses_top_category() -> None:
    assert holds(Condition(min_score=0.8))
    assert not holds(Condition(min_score=0.9))


def test_low_confidence() -> None:
    assert not holds(Condition(max_confidence=0.35))
    assert holds(Condition(max_confidence=0.35), article(categories=[]))
    assert holds(
        Condition(max_confidence=0.35),
        article(categories=[Category("medtop:11000000", "politique", 0.2)]),
    )


def test_entity() -> None:
    tagged = article(entities=[Entity(type="country", name="France", id="FR")])
    assert holds(Condition(entity=("FR", "Q90")), tagged)
    assert not holds(Condition(entity=("DE",)), tagged)


def test_keyword_words_phrases_and_chinese() -> None:
    assert holds(Condition(keyword=("projet de loi",)))
    assert holds(Condition(keyword=("ÉNERGIE",)))  # matched on the normalized form
    assert not holds(Condition(keyword=("loi sur l'eau", "gouv")))  # whole words only
    assert holds(Condition(keyword=("embargo",)), article(keywords=["Embargo"]))
    chinese = article(body_text="国务院今天发布了新的能源政策。", language="zh")
    assert holds(Condition(keyword=("能源政策",)), chinese)


def test_duplicate_tier() -> None:
    assert holds(Condition(duplicate_tier=("exact",)), article(duplicate_tier="exact"))
    assert not holds(Condition(duplicate_tier=("exact",)), article(duplicate_tier="near"))
    assert holds(Condition(duplicate_tier=("none",)))


def test_length_bounds() -> None:
    assert holds(Condition(min_length=100))
    assert not holds(Condition(max_length=100))
    assert holds(Condition(max_length=80), article(body_text="", summary="Bref."))


def test_conditions_combine_with_and() -> None:
    both = Condition(trust="auto", language=("en",))
    assert not holds(both)
    assert holds(Condition(trust="auto", language=("fr",)))


def test_first_matching_rule_wins_and_unless_skips() -> None:
    rules = [
        Rule("sport-only", "reject", Condition(topic=("medtop:15000000",))),
        Rule("trusted", "publish", Condition(trust="auto"),
             unless=Condition(keyword=("embargo",))),
        Rule("rest", "review"),
    ]
    assert route(article(), TRUSTED, rules).rule_name == "trusted"
    embargoed = article(body_text=BODY + " Embargo jusqu'à 18h.")
    decision = route(embargoed, TRUSTED, rules)
    assert (decision.action, decision.rule_name) == ("review", "rest")


def test_disabled_rule_and_no_rule() -> None:
    rules = [Rule("off", "reject", enabled=False)]
    decision = route(article(), TRUSTED, rules)
    assert decision == RoutingDecision("review", "(no rule)", "no rule matched: an editor decides")


def test_default_rules() -> None:
    rules = default_rules()
    decision = route(article(), TRUSTED, rules)
    assert (decision.action, decision.rule_name) == ("publish", "trusted-feed")
    assert "trusted feed" in decision.reason
    assert route(article(), UNTRUSTED, rules).action == "review"
    dup = route(article(duplicate_tier="exact", story_id="s1"), TRUSTED, rules)
    assert (dup.action, dup.rule_name) == ("reject", "exact-duplicate")
    assert "s1" in dup.reason
    war = article(categories=[Category("medtop:16000000", "conflit", 0.7)])
    assert route(war, TRUSTED, rules).rule_name == "review-topics"
    unsure = article(categories=[Category("medtop:11000000", "politique", 0.2)])
    assert route(unsure, TRUSTED, rules).rule_name == "low-confidence"
    assert route(article(body_text="Court."), TRUSTED, rules).rule_name == "too-short"


def test_apply_decision_sets_status_rule_and_reason() -> None:
    decided = apply_decision(article(), RoutingDecision("publish", "trusted-feed", "why"))
    assert (decided.status, decided.routing_rule, decided.routing_reason) == (
        "published", "trusted-feed", "why"
    )


def test_yaml_round_trip_and_scalars() -> None:
    text = """
rules:
  - name: wire-sport
    action: publish
    when: {feed: 7, language: en-GB, topic: medtop:15000000, min_score: 0.5}
    unless: {keyword: doping}
  - name: catch-all
    action: review
"""
    rules = load_rules(text)
    assert rules[0].when == Condition(
        feed=("7",), language=("en",), topic=("medtop:15000000",), min_score=0.5
    )
    assert rules[0].unless == Condition(keyword=("doping",))
    assert rules[1].when == Condition()
    assert load_rules(dump_rules(rules)) == rules
    assert rules_from_data(rules_to_data(rules)) == rules
    assert load_rules(dump_rules(default_rules())) == default_rules()


@pytest.mark.parametrize("bad", [
    [{"name": "x", "action": "delete"}],
    [{"name": "x", "action": "review", "when": {"colour": "red"}}],
    [{"name": "x", "action": "review", "when": {"topic": "sport"}}],
    [{"name": "x", "action": "review", "when": {"trust": "maybe"}}],
    [{"name": "x", "action": "review"}, {"name": "x", "action": "publish"}],
    {"not": "rules"},
])
def test_invalid_rules_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        rules_from_data(bad)
