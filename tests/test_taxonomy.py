"""The shipped IPTC Media Topics extract."""

from __future__ import annotations

from wiredesk import taxonomy


def test_seventeen_top_level_topics_with_labels() -> None:
    topics = taxonomy.topics()
    assert len(taxonomy.TOP_LEVEL) == 17
    for qcode in taxonomy.TOP_LEVEL:
        topic = topics[qcode]
        assert topic.level == 1 and topic.parent is None
        assert {"en", "ar", "fr", "zh", "de", "es"} <= set(topic.labels)


def test_labels_fall_back_to_english() -> None:
    sport = taxonomy.topics()["medtop:15000000"]
    assert sport.label("fr-FR") == "Sport"
    assert sport.label("ru") == sport.label("en") == "sport"
    assert sport.label(None) == "sport"


def test_hierarchy_and_uri() -> None:
    assert taxonomy.top_level_of("medtop:20000822") == "medtop:15000000"
    assert taxonomy.ancestors("medtop:20000822")[-1] == "medtop:15000000"
    assert taxonomy.top_level_of("medtop:04000000") == "medtop:04000000"
    assert taxonomy.uri("medtop:04000000") == (
        "http://cv.iptc.org/newscodes/mediatopic/04000000"
    )
