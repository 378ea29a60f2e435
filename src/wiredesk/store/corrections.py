"""Editors' topic corrections: set an article's IPTC topics by hand, and keep each as a
labeled example for the categorizer's next training.

The desk will call ``correct_topics``; until then the CLI (``wiredesk review topics``) and
the admin API do. ``labeled_examples`` is what ``wiredesk train categorizer`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from wiredesk import taxonomy
from wiredesk.schemas import Category, CategorySchema
from wiredesk.store import models
from wiredesk.store.models import utcnow

_CATEGORIES = CategorySchema(many=True)
EDITOR_SCORE = 1.0  # an editor's topic is certain


class UnknownTopic(ValueError):
    """A qcode that is not an IPTC Media Topic."""


class NoArticle(LookupError):
    """No article with that id."""


def correct_topics(
    session: Session, article_id: str, qcodes: Sequence[str], editor: str
) -> list[dict[str, object]]:
    """Give the article ``qcodes`` (any level, in the editor's order) and the broader topics
    above them, and record the correction (and the audit trail's entry); returns the article's
    new categories. Its story's version moves, so consumers see the new subjects (not a killed
    story's)."""
    from wiredesk.store.editors import audit, check_editor_name

    editor = check_editor_name(editor)
    known = taxonomy.topics()
    chosen = list(dict.fromkeys(q.strip() for q in qcodes if q.strip()))
    unknown = [q for q in chosen if q not in known]
    if unknown or not chosen:
        raise UnknownTopic(f"not IPTC Media Topics: {unknown}" if unknown
                           else "give at least one topic")
    row = session.get(models.Article, article_id, with_for_update=True)
    if row is None:
        raise NoArticle(article_id)
    previous = [c["qcode"] for c in row.categories or []]
    # Through the Category schema, as the pipeline writes categories (one contract).
    # The broader topics too, as the categorizer always gives the top level: a story an
    # editor filed under a subtopic alone left its top-level topic's feed.
    given = list(dict.fromkeys([*chosen, *(a for q in chosen for a in taxonomy.ancestors(q))]))
    row.categories = _CATEGORIES.dump([
        Category(qcode=q, label=known[q].label(row.language), score=EDITOR_SCORE)
        for q in given])
    session.add(models.TopicCorrection(article_id=article_id, qcodes=chosen, previous=previous,
                                       editor=editor[:200]))
    audit(session, editor, "topics", article_id, row.story_id, ", ".join(chosen))
    if row.story_id is not None:
        story = session.get(models.Story, row.story_id)
        # A killed story's last version is its kill: consumers see nothing else of it.
        if story is not None and story.status != models.KILLED:
            story.touch(utcnow())
    return list(row.categories)


def labeled_examples(session: Session) -> list[tuple[str, str, list[str]]]:
    """(text, language, qcodes) per corrected article, its latest correction winning; the text
    is what the categorizer reads (title, summary, body). Articles without a language are
    left out: the model is per language."""
    from wiredesk.pipeline.stages.categorize import article_text
    from wiredesk.store.articles import to_article

    latest: dict[str, list[str]] = {}
    for article_id, qcodes in session.execute(
        select(models.TopicCorrection.article_id, models.TopicCorrection.qcodes)
        .order_by(models.TopicCorrection.created_at, models.TopicCorrection.id)
    ):
        latest[article_id] = list(qcodes)
    rows = session.scalars(select(models.Article).where(
        models.Article.id.in_(latest), models.Article.language.is_not(None))) if latest else []
    order = {article_id: k for k, article_id in enumerate(latest)}  # oldest correction first
    return [(article_text(to_article(row)), row.language, latest[row.id])
            for row in sorted(rows, key=lambda row: order[row.id]) if row.language]
