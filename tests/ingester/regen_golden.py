"""Rewrite the corpus golden files: ``python -m tests.ingester.regen_golden`` from the repo root.

Run it after a deliberate change to parsing (identity, dates, sanitizing, text extraction), then
review the diff of tests/golden/ingester/corpus/ before committing: every changed id, date or
hash there is a behaviour change a user would see.
"""

from __future__ import annotations

import json
import sys

from tests.helpers import FeedHTTPServer, corpus_dir
from tests.ingester.corpus import GOLDEN_DIR, corpus_files, summary


def main() -> int:
    files = corpus_files()
    if not files:
        print(f"no corpus at {corpus_dir()} (set WIREDESK_CORPUS_DIR)", file=sys.stderr)
        return 1
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    server = FeedHTTPServer()
    try:
        for name in files:
            record = summary(server, name)
            path = GOLDEN_DIR / f"{name}.json"
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"{name:50} {record['outcome']:12} {record.get('entries', '')}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
