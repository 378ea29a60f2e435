"""The labeled corpora in ``../shared/corpus/labeled`` (read in place, never copied into the repo).

One loader per data set, each mapping its labels to IPTC top-level Media Topics as its
SOURCES.md proposes, and one seeded train/test split so that training never sees a test text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wiredesk.evaluation.corpus import configured_dir

# The split is part of the evaluation protocol: changing the seed or fraction changes the numbers.
SPLIT_SEED = 20251127
TEST_FRACTION = 0.2
MAX_CHARS = 6000  # long articles are cut: the opening carries the topic and keeps training fast


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    language: str
    qcodes: tuple[str, ...]
    dataset: str
    label: str  # the source's own label


def corpus_dir() -> Path:
    """Where the shared corpora are (one rule for every reader: ``evaluation.corpus``)."""
    return configured_dir()


def labeled_dir() -> Path:
    """The labeled sets inside the corpus folder."""
    return corpus_dir() / "labeled"


BBC_MAP = {
    "business": "medtop:04000000", "entertainment": "medtop:01000000",
    "politics": "medtop:11000000", "sport": "medtop:15000000", "tech": "medtop:13000000",
}
ANT_MAP = {
    "culture": "medtop:01000000", "economy": "medtop:04000000", "sport": "medtop:15000000",
    "technology": "medtop:13000000", "politic": "medtop:11000000", "society": "medtop:14000000",
}
THUC_MAP = {
    "finance": "medtop:04000000", "realty": "medtop:04000000", "stocks": "medtop:04000000",
    "education": "medtop:05000000", "science": "medtop:13000000", "society": "medtop:14000000",
    "politics": "medtop:11000000", "sports": "medtop:15000000", "game": "medtop:10000000",
    "entertainment": "medtop:01000000",
}
SIB_MAP = {
    "politics": "medtop:11000000", "sports": "medtop:15000000", "health": "medtop:07000000",
    "science/technology": "medtop:13000000", "entertainment": "medtop:01000000",
    "travel": "medtop:10000000",
}  # "geography" has no IPTC top-level equivalent and is left out
SIB_LANGUAGES = {
    "arb_Arab": "ar", "eng_Latn": "en", "rus_Cyrl": "ru", "zho_Hans": "zh", "fra_Latn": "fr",
    "deu_Latn": "de", "spa_Latn": "es",
}
DATASETS = ("bbc-news-en", "ant-corpus-ar", "thucnews-zh") + tuple(
    f"sib200-{lang}" for lang in SIB_LANGUAGES.values()
)


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _bbc() -> list[Example]:
    out = []
    for row in _jsonl(labeled_dir() / "bbc-news-en" / "bbc_news_2225.jsonl"):
        group = row.get("exact_dup_group")
        if group and group != row["id"]:
            continue  # keep one article per exact-duplicate group
        label = str(row["label"])
        text = f"{row['title']}\n{row['text']}"[:MAX_CHARS]
        out.append(Example(str(row["id"]), text, "en", (BBC_MAP[label],), "bbc-news-en", label))
    return out


def _ant() -> list[Example]:
    out = []
    folder = labeled_dir() / "ant-corpus-ar"
    for name in ("multisource_v2.1_sample.jsonl", "jawharafm_v1.1_sample.jsonl"):
        for row in _jsonl(folder / name):
            label = str(row["label"])
            if label not in ANT_MAP:
                continue  # geographic or miscellaneous sections have no topic
            text = f"{row['title']}\n{row['text']}"[:MAX_CHARS]
            out.append(
                Example(str(row["id"]), text, "ar", (ANT_MAP[label],), "ant-corpus-ar", label)
            )
    return out


def _thuc() -> list[Example]:
    path = labeled_dir() / "thucnews-headlines-zh" / "thucnews_headlines_test_sample.jsonl"
    return [
        Example(str(r["id"]), str(r["text"]), "zh", (THUC_MAP[str(r["label"])],), "thucnews-zh",
                str(r["label"]))
        for r in _jsonl(path)
    ]


def _sib(folder: str, files: tuple[str, ...]) -> list[Example]:
    language = SIB_LANGUAGES[folder]
    out = []
    for name in files:
        with (labeled_dir() / "sib200" / folder / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                label = row["category"]
                if label in SIB_MAP:
                    out.append(Example(
                        f"{folder}/{row['index_id']}", row["text"], language, (SIB_MAP[label],),
                        f"sib200-{language}", label,
                    ))
    return out


def _split(examples: list[Example], split: str) -> list[Example]:
    from sklearn.model_selection import train_test_split

    examples = sorted(examples, key=lambda e: e.id)
    train, test = train_test_split(
        examples, test_size=TEST_FRACTION, random_state=SPLIT_SEED,
        stratify=[e.label for e in examples],
    )
    return list(train if split == "train" else test)


def load(dataset: str, split: str) -> list[Example]:
    """Examples of one data set's ``train`` or ``test`` split (SIB-200: train+dev vs test)."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    if dataset.startswith("sib200-"):
        folder = {v: k for k, v in SIB_LANGUAGES.items()}[dataset.removeprefix("sib200-")]
        files = ("train.tsv", "dev.tsv") if split == "train" else ("test.tsv",)
        return _sib(folder, files)
    loaders = {"bbc-news-en": _bbc, "ant-corpus-ar": _ant, "thucnews-zh": _thuc}
    return _split(loaders[dataset](), split)


def available() -> bool:
    """Whether the labeled corpora are present (tests skip without them)."""
    return (labeled_dir() / "sib200").is_dir()
