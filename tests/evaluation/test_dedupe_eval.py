import random

from wiredesk.evaluation import dedupe as ev

TEXT = "\n".join(
    f"Paragraph {i}: the council met on Monday to discuss the budget for item {i}, and members "
    f"agreed to publish the minutes of meeting number {i * 7} next week."
    for i in range(6)
)


def test_split_is_recorded_and_balanced() -> None:
    ids = [f"pair-{i}" for i in range(2000)]
    tune = [i for i in ids if ev.in_tune_half(i)]
    assert 900 < len(tune) < 1100
    assert ev.in_tune_half("pair-1") == ev.in_tune_half("pair-1")


def test_tune_takes_the_middle_of_the_best_plateau() -> None:
    scores = [0.1, 0.2, 0.8, 0.9]
    gold = [False, False, True, True]
    assert ev.tune(scores, gold, grid=[0.1, 0.3, 0.5, 0.7, 0.95]) == 0.5
    assert ev.prf([True, False], [True, True])["recall"] == 0.5


def test_edited_copies_are_near_duplicates() -> None:
    doc = ev.Doc("d1", "en", "g", "Council meets", TEXT)
    rng = random.Random(1)
    for _ in range(5):
        copy, edits = ev.edited_copy(doc, rng)
        pair = ev.Pair("p", ev.doc_article(doc), copy, True, "k", "en", edits)
        assert ev.near_score(pair) >= 0.16, edits


def test_semeval_crawl_clock_reads_story_ids_as_crawl_times() -> None:
    """Media Cloud numbers stories as it crawls them: ids of articles whose URL has its date
    calibrate the clock; one article crawled a month late does not bend it."""
    from datetime import UTC, datetime

    def row(first: int, day: int, second: int, url2: str = "http://x.example/b") -> dict:
        return {"id1": str(first), "url1": f"http://x.example/2020/01/{day:02d}/a",
                "id2": str(second), "url2": url2}

    rows = [row(1_000_000 * day, day, 7) for day in range(1, 21)]
    rows.append(row(5_000_000, 28, 8))  # crawled on the 5th, its URL says the 28th
    clock = ev.semeval_crawl_clock(rows)
    assert abs(clock(10_500_000) - datetime(2020, 1, 11, tzinfo=UTC)).total_seconds() < 3600
    assert clock(2_000_000) < clock(2_000_001)


def test_roc_auc_counts_ties_as_half() -> None:
    assert ev._roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert ev._roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert ev._roc_auc([0.5], [True]) is None
