"""IPTC Media Topics as shipped in the package: labels per language, parents, top-level topics.

The data (CC BY 4.0, IPTC) lives in ``wiredesk/data/taxonomy/``; see the NOTICE there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EXTRACT_PATH = Path(__file__).parent / "data" / "taxonomy" / "mediatopic-extract.json"
URI_PREFIX = "http://cv.iptc.org/newscodes/mediatopic/"
TOP_LEVEL = tuple(f"medtop:{n:02d}000000" for n in range(1, 18))

# IPTC's locale tags -> BCP 47 primary language subtags used in Article.language.
_LOCALE_LANGUAGE = {
    "en-GB": "en", "en-US": "en", "ar": "ar", "zh-Hans": "zh", "fr": "fr", "de": "de", "es": "es",
    "pt-PT": "pt", "pt-BR": "pt", "se": "sv", "dk": "da", "no-NB": "nb", "no-NN": "nn",
}


@dataclass(frozen=True)
class Topic:
    qcode: str
    parent: str | None
    level: int
    labels: dict[str, list[str]]  # language -> labels (BCP 47 primary subtag)
    definitions: dict[str, list[str]]

    def label(self, language: str | None = None) -> str:
        """The label in ``language`` when IPTC has one, English otherwise."""
        primary = (language or "en").split("-")[0].lower()
        return (self.labels.get(primary) or self.labels["en"])[0]


def _by_language(values: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for locale, text in values.items():
        language = _LOCALE_LANGUAGE.get(locale, locale.split("-")[0].lower())
        if text and text not in out.setdefault(language, []):
            out[language].append(text)
    return out


@cache
def topics() -> dict[str, Topic]:
    """Every live Media Topic by qcode."""
    data = json.loads(EXTRACT_PATH.read_text(encoding="utf-8"))
    return {
        c["qcode"]: Topic(
            qcode=c["qcode"], parent=c["parent"], level=c["level"],
            labels=_by_language(c["prefLabel"]), definitions=_by_language(c["definition"]),
        )
        for c in data["concepts"]
    }


def top_level_of(qcode: str) -> str:
    """The top-level ancestor of ``qcode`` (itself for a top-level topic)."""
    all_topics = topics()
    topic = all_topics[qcode]
    while topic.parent is not None:
        topic = all_topics[topic.parent]
    return topic.qcode


def ancestors(qcode: str) -> list[str]:
    """``qcode`` and every broader topic above it, nearest first."""
    all_topics = topics()
    chain = [qcode]
    topic = all_topics.get(qcode)
    while topic is not None and topic.parent is not None:
        chain.append(topic.parent)
        topic = all_topics.get(topic.parent)
    return chain


def uri(qcode: str) -> str:
    """The IPTC URI of a ``medtop:`` qcode."""
    return URI_PREFIX + qcode.removeprefix("medtop:")
