"""Teddy Cup 2020 C (7 official first-level classes): TF-IDF + LinearSVC vs the model's category head learned
from the same rows (``shanzhi rules train --own-categories``: a county's own taxonomy).

Same split for both: the rows whose ``dup_detail_group`` (duplicates share it; empty → 留言编号) hashes into
``sha1(key) % 5 == 0`` are the test fifth, the rest is the training 4/5 (``classifiers.corpus.holdout_of``,
the split of ``shanzhi rules train/eval --split train|test --split-key dup_detail_group``).
Two text settings: the subject (留言主题) only, and subject + body (留言主题。留言详情).

    .venv/bin/python benchmarks/teddy_baseline.py [--data ../shared/data/public/teddycup2020c_attachment2_labelled.csv]

Prints one line per (setting, model) and a JSON object on the last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifiers import recipe  # noqa: E402
from classifiers.corpus import Example, holdout_of  # noqa: E402
from classifiers.corpus import raise_csv_limit as _raise_csv_limit  # noqa: E402
from classifiers.handrules import load_rules  # noqa: E402
from classifiers.model import Model  # noqa: E402
from classifiers.train import TrainConfig, train  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "public" / "teddycup2020c_attachment2_labelled.csv"
SETTINGS = {"subject": ["留言主题"], "subject+body": ["留言主题", "留言详情"]}


def rows(path: Path, cols: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    _raise_csv_limit()
    train: list[Any] = []
    test: list[Any] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for n, rec in enumerate(csv.DictReader(fh), 1):
            label = (rec.get("一级标签") or "").strip()
            text = "。".join(p for p in ((rec.get(c) or "").strip() for c in cols) if p)
            if not label or not text:
                continue
            key = (rec.get("dup_detail_group") or "").strip() or (rec.get("留言编号") or "").strip() or str(n)
            (test if holdout_of(key) else train).append((text, label))
    return train, test


def svm_accuracy(train, test) -> float:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    jieba.setLogLevel(60)
    vec = TfidfVectorizer(
        tokenizer=lambda t: jieba.lcut(t),
        token_pattern=None,
        lowercase=True,
        ngram_range=(1, 2),
        min_df=1,
        sublinear_tf=True,
    )
    x = vec.fit_transform([t for t, _ in train])
    clf = LinearSVC(C=1.0).fit(x, [lab for _, lab in train])
    pred = clf.predict(vec.transform([t for t, _ in test]))
    return sum(p == lab for p, (_, lab) in zip(pred, test, strict=True)) / len(test)


def learned_accuracy(train_rows, test) -> float:
    """The shipped recipe's intent and urgency data, with the Teddy training rows as the only categories."""
    rules = load_rules()
    base = [replace(e, category=None) for e in recipe.shipped_examples()]
    own = [
        Example(id=f"t{i}", text=t, intent="complaint", category=lab, urgent=False, county="teddy")
        for i, (t, lab) in enumerate(train_rows)
    ]
    meta, weights = train(base + own, rules, TrainConfig(), calibrate=False)
    model = Model(meta, weights, rules)
    return sum(model.classify(t).category == lab for t, lab in test) / len(test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    args = ap.parse_args()
    result: dict[str, dict[str, float]] = {}
    splits = {name: rows(args.data, cols) for name, cols in SETTINGS.items()}
    # every SVM first: loading the hand rules adds their words to jieba's (global) dictionary
    svms = {name: svm_accuracy(tr, te) for name, (tr, te) in splits.items()}
    for name, (tr, te) in splits.items():
        svm = svms[name]
        learned = learned_accuracy(tr, te)
        result[name] = {"train": len(tr), "test": len(te), "svm": round(svm, 4), "learned": round(learned, 4)}
        print(f"{name:<13} train {len(tr)} test {len(te)}  TF-IDF+LinearSVC {svm:.3f}  learned model {learned:.3f}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
