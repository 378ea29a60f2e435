"""Route stage: ordered, operator-editable rules decide publish, review or reject.

The first enabled rule whose conditions all hold decides, and the decision records the rule's
name and why it fired. Rules are plain dataclasses, loaded from and dumped to YAML (or the
same structure as JSON in the database) through a strict schema. Pure: no broker, no database.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import IO, Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, post_load, pre_load, validate
from marshmallow import fields as mfields

from wiredesk.schemas import DUPLICATE_TIERS, Article
from wiredesk.text.languages import primary_subtag
from wiredesk.text.normalize import normalize

ACTIONS = ("publish", "review", "reject")
TRUST_LEVELS = ("auto", "review")
ACTION_STATUS = {"publish": "published", "review": "pending_review", "reject": "rejected"}
DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "data" / "routing.yaml"
NO_RULE = "(no rule)"


@dataclass(frozen=True)
class FeedInfo:
    """What routing needs to know about the feed an article came from."""

    id: int
    name: str
    trust: str = "review"  # auto: may publish without an editor | review: an editor decides
    language: str | None = None


@dataclass(frozen=True)
class Condition:
    """Tests on one article; every test that is set must hold (lists match any of their items)."""

    feed: tuple[str, ...] = ()  # feed ids or name patterns (shell-style, case-insensitive)
    trust: str | None = None
    language: tuple[str, ...] = ()  # BCP 47 primary subtags; "none" = undetected
    topic: tuple[str, ...] = ()  # medtop qcodes; a category at or below one of them matches
    min_score: float | None = None  # score of that topic (or of the top category) at least this
    max_confidence: float | None = None  # top category score below this (none counts as 0)
    entity: tuple[str, ...] = ()  # entity ids (ISO 3166 codes, Wikidata QIDs)
    keyword: tuple[str, ...] = ()  # words or phrases in the title, summary, body or keywords
    duplicate_tier: tuple[str, ...] = ()  # exact | near | story | none
    min_length: int | None = None  # characters of body text (or summary when no body)
    max_length: int | None = None  # ... strictly fewer than this

    def is_empty(self) -> bool:
        """Whether no test is set (the condition always holds)."""
        return all(getattr(self, f.name) in ((), None) for f in fields(self))

    def explain(self, article: Article, feed: FeedInfo) -> str | None:
        """Why the condition holds for this article, or None when it does not."""
        reasons: list[str] = []
        for check in (
            _check_feed, _check_trust, _check_language, _check_topic, _check_confidence,
            _check_entity, _check_keyword, _check_duplicate, _check_length,
        ):
            result = check(self, article, feed)
            if result is False:
                return None
            if isinstance(result, str):
                reasons.append(result)
        return "; ".join(reasons) if reasons else "always"


@dataclass(frozen=True)
class Rule:
    """One routing rule: when ``when`` holds (and ``unless`` does not), take ``action``."""

    name: str
    action: str
    when: Condition = field(default_factory=Condition)
    unless: Condition | None = None
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class RoutingDecision:
    action: str  # publish | review | reject
    rule_name: str
    reason: str
    duplicate_tiers: tuple[str, ...] = ()  # what the deciding rule tested: a duplicate rule?

    @property
    def status(self) -> str:
        """The article status this decision leads to."""
        return ACTION_STATUS[self.action]


def route(article: Article, feed: FeedInfo, rules: Sequence[Rule]) -> RoutingDecision:
    """Decide what happens to ``article``: the first matching rule wins, else editors review."""
    for rule in rules:
        if not rule.enabled:
            continue
        why = rule.when.explain(article, feed)
        if why is None:
            continue
        if rule.unless is not None and rule.unless.explain(article, feed) is not None:
            continue
        reason = why if not rule.description else f"{rule.description} ({why})"
        return RoutingDecision(rule.action, rule.name, reason, rule.when.duplicate_tier)
    return RoutingDecision("review", NO_RULE, "no rule matched: an editor decides")


def apply_decision(article: Article, decision: RoutingDecision) -> Article:
    """Return ``article`` with its status, routing rule and reason set from ``decision``."""
    return article.replace(
        status=decision.status, routing_rule=decision.rule_name,
        routing_reason=decision.reason[:1000],
    )


# --- the tests, one per condition field: False = fails, None = not set, str = why it holds ---

def _check_feed(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.feed:
        return None
    for pattern in c.feed:
        if pattern == str(feed.id) or fnmatch.fnmatchcase(feed.name.casefold(), pattern.casefold()):
            return f"feed {feed.name!r} (id {feed.id}) matches {pattern!r}"
    return False


def _check_trust(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if c.trust is None:
        return None
    return f"feed trust is {feed.trust}" if feed.trust == c.trust else False


def _check_language(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.language:
        return None
    language = primary_subtag(article.language) or "none"
    return f"language {language}" if language in c.language else False


def _top_score(article: Article) -> float:
    return max((category.score for category in article.categories), default=0.0)


def _check_topic(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.topic:
        if c.min_score is None:
            return None
        score = _top_score(article)
        return f"top category score {score:.2f} >= {c.min_score}" if score >= c.min_score else False
    from wiredesk import taxonomy

    threshold = c.min_score if c.min_score is not None else 0.0
    for category in sorted(article.categories, key=lambda cat: -cat.score):
        lineage = taxonomy.ancestors(category.qcode)
        hit = next((q for q in c.topic if q in lineage), None)
        if hit is not None and category.score >= threshold:
            return f"topic {category.qcode} {category.label!r} score {category.score:.2f}" + (
                f" >= {c.min_score}" if c.min_score is not None else ""
            )
    return False


def _check_confidence(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if c.max_confidence is None:
        return None
    score = _top_score(article)
    if score < c.max_confidence:
        return f"classification confidence {score:.2f} < {c.max_confidence}"
    return False


def _check_entity(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.entity:
        return None
    for entity in article.entities:
        if entity.id in c.entity:
            return f"entity {entity.id} ({entity.name})"
    return False


def _check_keyword(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.keyword:
        return None
    text = f" {normalize(' '.join([article.title, article.summary, article.body_text]))} "
    own = {normalize(k) for k in article.keywords}
    for keyword in c.keyword:
        wanted = normalize(keyword)
        if not wanted:
            continue
        han = any("\u3400" <= ch <= "\u9fff" for ch in wanted)
        if wanted in own or (wanted in text if han else f" {wanted} " in text):
            return f"keyword {keyword!r}"
    return False


def _check_duplicate(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if not c.duplicate_tier:
        return None
    tier = article.duplicate_tier or "none"
    if tier not in c.duplicate_tier:
        return False
    if tier == "none":
        return "not a duplicate"
    if article.story_id:
        return f"{tier} duplicate of story {article.story_id}"
    return f"{tier} duplicate"


def _check_length(c: Condition, article: Article, feed: FeedInfo) -> str | bool | None:
    if c.min_length is None and c.max_length is None:
        return None
    length = len(article.body_text or article.summary)
    if c.min_length is not None and length < c.min_length:
        return False
    if c.max_length is not None and length >= c.max_length:
        return False
    bounds = [f">= {c.min_length}" if c.min_length is not None else "",
              f"< {c.max_length}" if c.max_length is not None else ""]
    return f"length {length} chars " + " and ".join(b for b in bounds if b)


# --- loading and saving: YAML for files, the same plain structure as JSON in the database ---

def _as_list(value: Any) -> Any:
    if value is None or isinstance(value, list | tuple):
        return value
    return [value]


class ConditionSchema(Schema):
    class Meta:
        unknown = RAISE

    feed = mfields.List(mfields.String(validate=validate.Length(1, 300)))
    trust = mfields.String(validate=validate.OneOf(TRUST_LEVELS), allow_none=True)
    language = mfields.List(mfields.String(validate=validate.Length(1, 35)))
    topic = mfields.List(mfields.String(validate=validate.Regexp(r"^medtop:\d{8}$")))
    min_score = mfields.Float(validate=validate.Range(0.0, 1.0), allow_none=True)
    max_confidence = mfields.Float(validate=validate.Range(0.0, 1.0), allow_none=True)
    entity = mfields.List(mfields.String(validate=validate.Length(1, 100)))
    keyword = mfields.List(mfields.String(validate=validate.Length(1, 200)))
    duplicate_tier = mfields.List(
        mfields.String(validate=validate.OneOf((*DUPLICATE_TIERS, "none")))
    )
    min_length = mfields.Integer(validate=validate.Range(min=0), allow_none=True)
    max_length = mfields.Integer(validate=validate.Range(min=0), allow_none=True)

    @pre_load
    def _lists(self, data: Any, **_: Any) -> Any:
        # Operators may write a single value where a list is expected: `trust: auto`, `feed: 3`.
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key in ("feed", "language", "topic", "entity", "keyword", "duplicate_tier"):
            if key in out:
                out[key] = [str(v) for v in _as_list(out[key]) or []]
        if "language" in out:
            out["language"] = [primary_subtag(v) or "none" for v in out["language"]]
        return out

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Condition:
        return Condition(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    name = mfields.String(required=True, validate=validate.Length(1, 100))
    action = mfields.String(required=True, validate=validate.OneOf(ACTIONS))
    when = mfields.Nested(ConditionSchema, load_default=None)
    unless = mfields.Nested(ConditionSchema, load_default=None, allow_none=True)
    description = mfields.String(load_default="", validate=validate.Length(max=500))
    enabled = mfields.Boolean(load_default=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Rule:
        data["when"] = data.get("when") or Condition()
        return Rule(**data)


def never_matching(condition: Condition) -> dict[str, list[str]]:
    """Why ``condition`` could never hold, by field; empty when it can."""
    from wiredesk import taxonomy

    errors: dict[str, list[str]] = {}
    if unknown := [q for q in condition.topic if q not in taxonomy.topics()]:
        errors["topic"] = [f"not an IPTC Media Topic: {', '.join(unknown)}"]
    if bad := [lang for lang in condition.language if not re.fullmatch(r"[a-z]{2,3}|none", lang)]:
        errors["language"] = [f"not a BCP 47 language tag: {', '.join(bad)} "
                              "(en, ar, zh-Hans ...; none = undetected)"]
    if empty := [k for k in condition.keyword if not normalize(k).strip()]:
        errors["keyword"] = [f"no words to match in {', '.join(map(repr, empty))}"]
    low, high = condition.min_length, condition.max_length
    if low is not None and high is not None and high <= low:
        errors["max_length"] = [f"must be greater than min_length ({low})"]
    return errors


def rules_from_data(data: Any, *, refuse_never_matching: bool = True) -> list[Rule]:
    """Rules from plain data: a list of rule mappings, or ``{"rules": [...]}``.

    A rule that could never match is refused (a review list naming a topic that does not
    exist would publish what it meant to hold), unless ``refuse_never_matching`` is False.
    """
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list):
        raise ValidationError("expected a list of rules (or a mapping with a 'rules' list)")
    rules = RuleSchema(many=True).load(data)
    names = [rule.name for rule in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"rule names must be unique: {', '.join(duplicates)}")
    if refuse_never_matching:
        errors = {}
        for n, rule in enumerate(rules):
            found = {part: why for part, condition in (("when", rule.when), ("unless", rule.unless))
                     if condition is not None and (why := never_matching(condition))}
            if found:
                errors[n] = found
        if errors:
            raise ValidationError(errors)
    return list(rules)


def _condition_data(condition: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(condition):
        value = getattr(condition, f.name)
        if value in ((), None):
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def rules_to_data(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Plain data for rules (what the database stores and the API returns)."""
    out = []
    for rule in rules:
        item: dict[str, Any] = {"name": rule.name, "action": rule.action}
        if rule.description:
            item["description"] = rule.description
        item["when"] = _condition_data(rule.when)
        if rule.unless is not None:
            item["unless"] = _condition_data(rule.unless)
        if not rule.enabled:
            item["enabled"] = False
        out.append(item)
    return out


def load_rules(source: str | Path | IO[str]) -> list[Rule]:
    """Rules from a YAML document: a path, an open file, or the YAML text itself."""
    if isinstance(source, Path):
        text = source.read_text(encoding="utf-8")
    elif isinstance(source, str):
        text = source
    else:
        text = source.read()
    return rules_from_data(yaml.safe_load(text))


def dump_rules(rules: Sequence[Rule]) -> str:
    """The YAML document for ``rules`` (load_rules reads it back unchanged)."""
    return yaml.safe_dump(
        {"rules": rules_to_data(rules)}, allow_unicode=True, sort_keys=False, width=100
    )


@cache
def _default_rules() -> tuple[Rule, ...]:
    return tuple(load_rules(DEFAULT_RULES_PATH))


def default_rules() -> list[Rule]:
    """The rules shipped in ``wiredesk/data/routing.yaml``."""
    return list(_default_rules())
