"""The ingest benchmark's summary: each round's ratio pairs the two systems' runs of that round."""

from __future__ import annotations

from wiredesk.bench.ingest import ratio_summary


def _row(system: str, feeds: int, label: str, speed: float, round_: int) -> dict[str, object]:
    return {"system": system, "feeds": feeds, "pass": label, "feeds_per_s": speed,
            "round": round_}


def test_each_round_is_compared_with_its_own_reader_run() -> None:
    rows = [_row("wiredesk", 1000, "first", 200.0, 1), _row("reader", 1000, "first", 100.0, 1),
            _row("wiredesk", 1000, "first", 90.0, 2), _row("reader", 1000, "first", 60.0, 2),
            _row("wiredesk", 1000, "first", 120.0, 3), _row("reader", 1000, "first", 100.0, 3),
            _row("wiredesk", 1000, "second", 1500.0, 1), _row("reader", 1000, "second", 750.0, 1)]
    assert ratio_summary(rows) == [
        {"feeds": 1000, "pass": "first", "ratios": [2.0, 1.5, 1.2], "median": 1.5},
        {"feeds": 1000, "pass": "second", "ratios": [2.0], "median": 2.0}]


def test_without_reader_there_is_nothing_to_compare() -> None:
    assert ratio_summary([_row("wiredesk", 1000, "first", 200.0, 1)]) == []
