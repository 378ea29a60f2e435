"""Build the compact IPTC Media Topics extract shipped in ``wiredesk/data/taxonomy/``.

Run once when IPTC publishes a new release:
``python -m wiredesk.training.taxonomy --source ../shared/taxonomy/mediatopic.json``.
Keeps every live (non-retired) concept with its parent, level, labels and definitions in every
locale of the export, and drops what the product does not read (URIs, matches, notes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from wiredesk.taxonomy import EXTRACT_PATH

_URI_PREFIX = "http://cv.iptc.org/newscodes/mediatopic/"


def _qcode(uri: str) -> str:
    return "medtop:" + uri.removeprefix(_URI_PREFIX)


def build_extract(export: dict[str, Any]) -> dict[str, Any]:
    """Reduce IPTC's JSON-LD export to the concepts, labels and definitions Wiredesk uses."""
    by_qcode = {c["qcode"]: c for c in export["conceptSet"]}

    def parent(concept: dict[str, Any]) -> str | None:
        broader = concept.get("broader") or []
        return _qcode(broader[0]) if broader else None

    def level(concept: dict[str, Any]) -> int:
        depth, up = 1, parent(concept)
        while up is not None:
            depth, up = depth + 1, parent(by_qcode[up])
        return depth

    concepts = []
    for concept in export["conceptSet"]:
        if concept.get("retired"):
            continue
        concepts.append({
            "qcode": concept["qcode"],
            "parent": parent(concept),
            "level": level(concept),
            "prefLabel": concept.get("prefLabel", {}),
            "definition": concept.get("definition", {}),
        })
    concepts.sort(key=lambda c: (c["level"], c["qcode"]))
    return {
        "note": (
            "Compact extract of IPTC Media Topic NewsCodes: live concepts, all levels, with "
            "prefLabel and definition in every locale of IPTC's JSON-LD export. Locale tags are "
            "IPTC's own ('se' Swedish, 'dk' Danish, 'no-NB'/'no-NN' Norwegian)."
        ),
        "scheme": _URI_PREFIX,
        "dateReleased": export.get("dateReleased"),
        "copyrightHolder": export.get("copyrightHolder"),
        "licence": export.get("licenceLink"),
        "concepts": concepts,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: write the extract from an IPTC export."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="IPTC mediatopic.json export")
    parser.add_argument("--out", type=Path, default=EXTRACT_PATH)
    args = parser.parse_args(argv)
    extract = build_extract(json.loads(args.source.read_text(encoding="utf-8")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(extract, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    print(f"{len(extract['concepts'])} concepts -> {args.out}")


if __name__ == "__main__":
    main()
