"""What the shipped model is trained on, and how: one place, so `shanzhi rules train` rebuilds
``classifiers/model/default.jsonl`` exactly and cross-validation scores the same recipe.

- the written corpus (``classifiers/data/corpus/``, fourteen counties) and the dev set (岚江县), at full weight;
- everyday chit-chat of no county (``classifiers/data/everyday/``), at full weight, in every fold;
- real public text nobody here wrote: the public-service FAQ's questions (consultations in the written register)
  and labelled Teddy Cup subjects (``classifiers/data/public/``), at ``PUBLIC_WEIGHT``: there are thousands of
  them, and a village group is not a message board.
"""

from __future__ import annotations

from pathlib import Path

from classifiers import corpus
from classifiers.corpus import Example

PUBLIC_WEIGHT = 0.5
TEDDY_LABELLED = corpus.DATA_DIR / "public" / "teddy_subjects_labelled.csv"


EVERYDAY_DIR = corpus.DATA_DIR / "everyday"


def public_examples() -> list[Example]:
    """Always in training, never a county held out: public text, and everyday chit-chat of no county."""
    out = corpus.read_corpus(EVERYDAY_DIR) if EVERYDAY_DIR.exists() else []
    out += corpus.read_govqa(weight=PUBLIC_WEIGHT)
    if TEDDY_LABELLED.exists():
        out += corpus.read_csv(TEDDY_LABELLED, county="public:teddycup", weight=PUBLIC_WEIGHT)
    return out


def chat_examples(folder: Path | None = None) -> list[Example]:
    """The counties: what leave-one-county-out holds out, one at a time (``folder``: another corpus instead of
    the project's corpus and dev set)."""
    if folder is not None:
        return corpus.read_corpus(folder)
    return corpus.read_corpus() + corpus.read_csv(corpus.DEV_SET, county="岚江县")


def training_files(folder: Path | None = None) -> list[Path]:
    chat = corpus.corpus_files(folder) if folder is not None else corpus.corpus_files() + [corpus.DEV_SET]
    everyday = corpus.corpus_files(EVERYDAY_DIR) if EVERYDAY_DIR.exists() else []
    return chat + everyday + [corpus.GOVQA] + ([TEDDY_LABELLED] if TEDDY_LABELLED.exists() else [])


def shipped_examples(folder: Path | None = None) -> list[Example]:
    return chat_examples(folder) + public_examples()
