"""Learn readable rules from labelled CSVs (``shanzhi rules learn``).

1. Segment every text with the classifier's own tokenizer (spaCy blank zh + jieba).
2. Features: jieba tokens, adjacent token pairs and character bigrams (inside runs of Chinese
   characters: ``CHAR_NGRAM``) occurring in at least ``min_support`` messages, valued as sublinear
   tf-idf (1 + ln count) * idf, each message's vector L2-normalised.
3. Fit a one-vs-rest linear SVM (scikit-learn LinearSVC, L2, squared hinge): one weight per
   (feature, label) and one bias per label -- the model a data scientist would reach for, written
   out as rules, so the rules score exactly as that linear model does (pipeline.score sums
   weight * tf-idf / norm per label and adds the label's bias from the meta line).
4. Shift each feature's weights so the smallest is 0 (adds the same amount to every label: the
   ranking is unchanged, every rule adds evidence) and drop tiny ones (``min_weight``);
   ``per_label`` (0: all) keeps only the strongest rules per label.
5. Write them as JSONL rules in the same format as the hand-written ones: a token string is a
   PhraseMatcher pattern, a pair is a Matcher token pattern, a character bigram a ``"chars": true``
   pattern (its characters counted anywhere in the text); a meta line carries the label priors.

Labels that are all intents (complaint/consultation/other) give intent rules; anything else gives
category rules (a county's own taxonomy) that replace the default category rules when the file is
loaded beside them.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.evaluate import _raise_csv_limit, holdout_of
from classifiers.pipeline import RULES_DIR, _make_nlp, load_userdict, normalize
from classifiers.types import DEFAULT_CATEGORIES, INTENTS

_WORD_RE = re.compile(r"[\u4e00-\u9fffa-z0-9]")
_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")  # = pipeline._HAN_RUN_RE: where character rules are counted
#: Character n-grams (inside runs of Chinese characters) are features too, written as ``"chars": true`` rules:
#: short subjects carry much of their meaning in pieces jieba's words hide (公交 in 公交车站, 噪音 in 噪音扰民).
#: 0: words and word pairs only.
CHAR_NGRAM = 2
CHAR_PREFIX = "chars:"
KEEP_STOPWORDS = True
_STOP = set("的了是在我你他她它们这那个也就都和与及或而呢吗啊吧哦呀嘛着过把被给让对向从到为以之其")


@dataclass
class LearnReport:
    rows: int
    labels: dict[str, int]
    rules: int
    target: str
    out: Path


def read_labelled(
    paths: Sequence[Path | str],
    text_columns: Sequence[str],
    label_column: str,
    *,
    split_key: str | None = None,
    split: str | None = None,
) -> list[tuple[str, str]]:
    """(text, label) pairs from one or more CSVs; rows with an empty label are skipped."""
    _raise_csv_limit()
    out: list[tuple[str, str]] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            for c in [*text_columns, label_column]:
                if c not in fields:
                    raise ValueError(f"{path}: no column {c} (columns: {', '.join(fields)})")
            for n, rec in enumerate(reader, 1):
                if split in ("train", "test"):
                    rid = (rec.get("id") or "").strip()
                    key = ((rec.get(split_key) or "").strip() if split_key else "") or rid or str(n)
                    if holdout_of(key) != (split == "test"):
                        continue
                label = (rec.get(label_column) or "").strip()
                text = "。".join(p for p in ((rec.get(c) or "").strip() for c in text_columns) if p)
                if label and text:
                    out.append((text, label))
    return out


def _features(tokens: list[str], text: str = "", char_ngram: int = 0) -> Counter[str]:
    """Token and adjacent-token-pair counts (pairs never span whitespace or punctuation), plus the counts of the
    character n-grams of ``text`` inside its runs of Chinese characters (``chars:`` + the characters)."""
    feats: Counter[str] = Counter()
    prev: str | None = None
    for t in tokens:
        if not _WORD_RE.search(t):
            prev = None
            continue
        if KEEP_STOPWORDS or t not in _STOP:
            feats[t] += 1
        if prev is not None and (prev not in _STOP or t not in _STOP):
            feats[f"{prev} {t}"] += 1
        prev = t
    if char_ngram:
        for run in _HAN_RUN_RE.findall(text):
            for i in range(len(run) - char_ngram + 1):
                feats[CHAR_PREFIX + run[i:i + char_ngram]] += 1
    return feats


def tokenize_all(texts: Sequence[str], char_ngram: int | None = None) -> list[Counter[str]]:
    """The features of each text (see ``_features``); ``char_ngram`` None: ``CHAR_NGRAM``."""
    for f in sorted(RULES_DIR.glob("*.txt")):
        load_userdict(f)
    nlp = _make_nlp()
    k = CHAR_NGRAM if char_ngram is None else char_ngram
    out = []
    for x in texts:
        norm = normalize(x)
        out.append(_features([t.text for t in nlp.make_doc(norm)], norm, k))
    return out


def _log_odds(docs: list[Counter[str]], labels: list[str], min_support: int) -> dict[str, list[tuple[str, float, int]]]:
    """Per label: (feature, z-score of the log-odds ratio vs the other labels, support)."""
    df_label: dict[str, Counter[str]] = defaultdict(Counter)
    df_all: Counter[str] = Counter()
    n_label = Counter(labels)
    for feats, lab in zip(docs, labels, strict=True):
        df_label[lab].update(feats.keys())
        df_all.update(feats.keys())
    n = len(docs)
    alpha0 = 0.5 * sum(df_all.values()) / max(1, len(df_all))  # prior strength per feature
    out: dict[str, list[tuple[str, float, int]]] = {}
    for lab in n_label:
        res = []
        ni, nj = n_label[lab], n - n_label[lab]
        for f, a in df_all.items():
            yi = df_label[lab][f]
            if yi < min_support:
                continue
            yj = a - yi
            prior = alpha0 * a / n if n else 0.5
            prior = max(prior, 0.01)
            li = math.log((yi + prior) / (ni + prior - yi + 1e-9 + prior))
            lj = math.log((yj + prior) / (nj + prior - yj + 1e-9 + prior))
            var = 1 / (yi + prior) + 1 / (yj + prior)
            z = (li - lj) / math.sqrt(var)
            if z > 0:
                res.append((f, z, yi))
        res.sort(key=lambda t: -t[1])
        out[lab] = res
    return out


def _matrix(docs: list[Counter[str]], feats: list[str], idf: dict[str, float]) -> Any:
    """Sparse L2-normalised sublinear tf-idf rows: exactly what pipeline.score computes from the rules."""
    import numpy as np
    from scipy.sparse import csr_matrix

    index = {f: i for i, f in enumerate(feats)}
    data, cols, ptr = [], [], [0]
    for d in docs:
        row = [(index[f], (1.0 + math.log(tf)) * idf[f]) for f, tf in d.items() if f in index]
        norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
        cols.extend(i for i, _ in row)
        data.extend(v / norm for _, v in row)
        ptr.append(len(cols))
    return csr_matrix((np.array(data, dtype=np.float64), np.array(cols, dtype=np.int64), np.array(ptr)),
                      shape=(len(docs), len(feats)))


def _fit(x: Any, labels: list[str], classes: list[str], c: float) -> tuple[Any, Any]:
    """One-vs-rest linear SVM (squared hinge, L2): one weight per (feature, label) and a bias per label.

    A label's score is ``bias + sum(weight * x)``: the sum the pipeline makes of the rules that fire.
    """
    import numpy as np
    from sklearn.svm import LinearSVC

    clf = LinearSVC(C=c).fit(x, labels)
    w, b = np.asarray(clf.coef_, dtype=np.float64), np.asarray(clf.intercept_, dtype=np.float64)
    order = [list(clf.classes_).index(lab) for lab in classes] if len(classes) > 2 else None
    if order is None:  # binary: one hyperplane; split it into two opposite scores
        w = np.vstack([-w[0] / 2, w[0] / 2])
        b = np.array([-b[0] / 2, b[0] / 2])
    else:
        w, b = w[order], b[order]
    return w.T, b


def learn(
    rows: Sequence[tuple[str, str]],
    out: Path | str,
    *,
    min_support: int = 2,
    per_label: int = 0,
    c: float = 1.0,
    min_weight: float = 0.02,
    source: str = "",
    char_ngram: int | None = None,
) -> LearnReport:
    """Mine rules from (text, label) rows and write them to ``out``."""
    if not rows:
        raise ValueError("no labelled rows to learn from")
    texts = [t for t, _ in rows]
    labels = [lab for _, lab in rows]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two labels, got {classes}")
    target = "intent" if set(classes) <= set(INTENTS) else "category"
    docs = tokenize_all(texts, char_ngram)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    feats = sorted(f for f, n in df.items() if n >= min_support)
    if not feats:
        raise ValueError(f"no word occurs in {min_support} or more messages: lower --min-support")
    n_docs = len(docs)
    idf = {f: math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in feats}
    w, b = _fit(_matrix(docs, feats, idf), labels, classes, c)
    chosen = set(feats)
    support: dict[str, Counter[str]] = defaultdict(Counter)
    for d, lab in zip(docs, labels, strict=True):
        for f in d:
            if f in chosen:
                support[f][lab] += 1
    lines: list[str] = []
    counts = Counter(labels)
    b = b - b.max()
    k = CHAR_NGRAM if char_ngram is None else char_ngram
    grams = f", character {k}-grams (\"chars\": true)" if k else ""
    method = (f"jieba words, adjacent word pairs{grams} in >= {min_support} messages; one-vs-rest linear SVM (C={c}) "
              "on their L2-normalised sublinear tf-idf; each word's weights shifted so the smallest is 0 (the "
              "ranking of labels is unchanged) and weights under {min_weight} dropped; score of a label = "
              "prior + sum(weight * (1 + ln count) * idf) / norm, the norm taken over the words that fired")
    meta: dict[str, Any] = {
        "learned": True,
        "target": target,
        "source": source,
        "rows": len(rows),
        "labels": dict(sorted(counts.items())),
        "method": method.replace("{min_weight}", str(min_weight)),
    }
    if target == "category":
        meta["categories"] = classes
        meta["category_bias"] = {c: round(float(v), 3) for c, v in zip(classes, b, strict=True)}
        meta["replace_default_categories"] = not set(classes) <= set(DEFAULT_CATEGORIES)
    else:
        meta["intent_bias"] = {c: round(float(v) - float(b[classes.index("other")]) if "other" in classes
                                        else float(v), 3) for c, v in zip(classes, b, strict=True)}
    lines.append("# Learned by `shanzhi rules learn`: one rule per (words, label), weight = evidence for the label.")
    lines.append("# Review freely: delete a line to drop a rule, edit its weight to trust it more or less.")
    lines.append(json.dumps({"meta": meta}, ensure_ascii=False))
    n_rules = 0
    per: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for i, f in enumerate(feats):
        row = w[i] - w[i].min()
        for j, lab in enumerate(classes):
            if row[j] >= min_weight:
                per[lab].append((float(row[j]), f))
    if per_label:
        per = {lab: sorted(v, key=lambda t: -t[0])[:per_label] for lab, v in per.items()}
    safe = re.compile(r"[^0-9a-zA-Z\u4e00-\u9fff]+")
    for lab in classes:
        for k, (weight, f) in enumerate(sorted(per.get(lab, []), key=lambda t: -t[0]), 1):
            chars = f.startswith(CHAR_PREFIX)
            parts = [f[len(CHAR_PREFIX):]] if chars else f.split(" ")
            pattern: Any = parts[0] if len(parts) == 1 else [{"ORTH": p} for p in parts]
            rule = {
                "id": f"learned.{safe.sub('_', lab)}.{k:04d}",
                "target": target,
                "label": lab,
                "weight": round(weight, 4),
                "idf": round(idf[f], 4),
                "pattern": pattern,
                **({"chars": True} if chars else {}),
                "support": dict(support[f]),
            }
            lines.append(json.dumps(rule, ensure_ascii=False))
            n_rules += 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return LearnReport(rows=len(rows), labels=dict(counts), rules=n_rules, target=target, out=out)
