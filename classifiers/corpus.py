"""Labelled messages to learn from and to score on.

Every example knows its county: evaluation holds a whole county out, because a classifier that has seen a
county's villages, names and turns of phrase says little about the next county. Sources:

- ``classifiers/data/corpus/*.csv`` — the written corpus, one file per invented county
  (``id,county,text,intent,category,urgent,emergency,note``; see classifiers/data/README.md);
- ``classifiers/data/dev/lanjiang.csv`` — the 400-message development set (岚江县);
- ``classifiers/data/public/govqa_questions.csv`` — 2,080 real questions from a city's public-service FAQ:
  consultations, in the written register;
- any CSV of the same columns, e.g. ``shanzhi feedback export``: grid workers' corrections.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from classifiers.types import EMERGENCY_KINDS, INTENTS

DATA_DIR = Path(__file__).parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"
DEV_SET = DATA_DIR / "dev" / "lanjiang.csv"
GOVQA = DATA_DIR / "public" / "govqa_questions.csv"
TRUE_VALUES = {"1", "true", "yes", "y", "t", "是", "urgent"}
FALSE_VALUES = {"0", "false", "no", "n", "f", "否", ""}


class CorpusError(ValueError):
    """A labelled file cannot be read as examples (the message names the file, row and column)."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    intent: str | None = None  # gold, None where the file does not say
    category: str | None = None  # gold category of a complaint
    urgent: bool | None = None
    emergency: str | None = None  # kind, for urgent examples
    county: str = ""
    weight: float = 1.0  # in training: public text in another register counts less than chat
    source: str = ""


def raise_csv_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


def _flag(v: str, where: str) -> bool | None:
    s = (v or "").strip().lower()
    if s in TRUE_VALUES:
        return True
    if s in FALSE_VALUES:
        return False
    raise CorpusError(f"{where}: urgent must be 0 or 1, not {v!r}")


def holdout_of(key: str, fraction: int = 5) -> bool:
    """The held-out 1/fraction of a file for --split test, by a hash of the row's key (stable across runs)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % fraction == 0


def read_csv(
    path: Path | str,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    intent: str | None = None,
    county: str | None = None,
    weight: float = 1.0,
    split: str | None = None,
    split_key: str | None = None,
) -> list[Example]:
    """Examples from a labelled CSV. ``label_column`` names the gold category (default ``category``);
    ``intent`` fixes the gold intent for files without an intent column; ``county`` is used where the file has
    no county column (default: the file's name); ``split`` keeps the train (4/5) or test (1/5) part."""
    raise_csv_limit()
    path = Path(path)
    cols = list(text_columns or ["text"])
    if split not in (None, "train", "test"):
        raise CorpusError("split must be train or test")
    if intent is not None and intent not in INTENTS:
        raise CorpusError(f"intent must be one of {INTENTS}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        for c in cols + ([label_column] if label_column else []) + ([split_key] if split_key else []):
            if c not in header:
                raise CorpusError(f"{path}: no column {c!r} (columns: {', '.join(header)})")
        cat_col = label_column or ("category" if "category" in header else None)
        out: list[Example] = []
        for n, r in enumerate(reader, 1):
            where = f"{path}:{n + 1}"
            text = "。".join((r.get(c) or "").strip() for c in cols if (r.get(c) or "").strip())
            rid = (r.get("id") or r.get("留言编号") or "").strip() or f"{path.stem}-{n}"
            if split:
                key = (r.get(split_key) or "").strip() if split_key else rid
                if holdout_of(key or rid) != (split == "test"):
                    continue
            gold = intent or ((r.get("intent") or "").strip() or None)
            if gold is not None and gold not in INTENTS:
                raise CorpusError(f"{where}: intent must be one of {INTENTS}, not {gold!r}")
            cat = ((r.get(cat_col) or "").strip() or None) if cat_col else None
            urgent = _flag(r["urgent"], where) if "urgent" in header else None
            kind = (r.get("emergency") or "").strip() or None
            if kind is not None and kind not in EMERGENCY_KINDS:
                raise CorpusError(f"{where}: emergency must be one of {EMERGENCY_KINDS}, not {kind!r}")
            out.append(
                Example(
                    id=rid,
                    text=text,
                    intent=gold,
                    category=cat,
                    urgent=urgent,
                    emergency=kind,
                    county=(r.get("county") or "").strip() or county or path.stem,
                    weight=weight,
                    source=str(path),
                )
            )
    return out


def read_govqa(path: Path | str = GOVQA, weight: float = 1.0) -> list[Example]:
    """The public-service FAQ's questions as consultations (not urgent: they ask what to do, nothing is
    happening), the county ``public:govqa``."""
    raise_csv_limit()
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [
            Example(
                id=r["id"],
                text=r["question"],
                intent="consultation",
                urgent=False,
                county="public:govqa",
                weight=weight,
                source=str(path),
            )
            for r in csv.DictReader(f)
            if (r.get("question") or "").strip()
        ]


def corpus_files(folder: Path = CORPUS_DIR) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def read_corpus(folder: Path = CORPUS_DIR) -> list[Example]:
    out: list[Example] = []
    for p in corpus_files(folder):
        out.extend(read_csv(p))
    return out


def with_weight(examples: Iterable[Example], weight: float) -> list[Example]:
    return [replace(e, weight=weight) for e in examples]


def fingerprint(paths: Iterable[Path]) -> str:
    """A short hash of the training files: the model says exactly what it was trained on."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
