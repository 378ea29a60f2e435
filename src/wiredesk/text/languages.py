"""Language tags: every stage compares languages by the primary subtag, spelled one way here."""

from __future__ import annotations


def primary_subtag(tag: str | None) -> str | None:
    """`en-GB` -> `en`, `zh_Hans_CN` -> `zh`; None or empty stays None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary or None
