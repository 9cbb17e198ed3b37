"""Learn readable rules from labelled CSVs (``shanzhi rules learn``).

1. Segment every text with the classifier's own tokenizer (spaCy blank zh + jieba).
2. Candidate features: jieba tokens and adjacent token pairs, counted once per message.
3. Keep per label the features with a minimum support whose log-odds ratio (informative Dirichlet
   prior, Monroe et al. 2008) says they are over-represented in that label.
4. Fit one weight per (feature, label) with an L2-regularised softmax regression on those binary
   features (numpy), shift each feature's weights so the smallest is 0 (the ranking of labels is
   unchanged, every rule adds evidence) and drop tiny ones.
5. Write them as JSONL rules in the same format as the hand-written ones: a token string is a
   PhraseMatcher pattern, a pair is a Matcher token pattern; a meta line carries the label priors.

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


def _features(tokens: list[str]) -> Counter[str]:
    """Token and adjacent-token-pair counts (pairs never span whitespace or punctuation)."""
    feats: Counter[str] = Counter()
    prev: str | None = None
    for t in tokens:
        if not _WORD_RE.search(t):
            prev = None
            continue
        if t not in _STOP:
            feats[t] += 1
        if prev is not None and (prev not in _STOP or t not in _STOP):
            feats[f"{prev} {t}"] += 1
        prev = t
    return feats


def tokenize_all(texts: Sequence[str]) -> list[Counter[str]]:
    for f in sorted(RULES_DIR.glob("*.txt")):
        load_userdict(f)
    nlp = _make_nlp()
    return [_features([t.text for t in nlp.make_doc(normalize(x))]) for x in texts]


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


def _fit(docs: list[Counter[str]], labels: list[str], feats: list[str], classes: list[str], l2: float,
         idf: dict[str, float], epochs: int = 400) -> tuple[Any, Any]:
    import numpy as np

    index = {f: i for i, f in enumerate(feats)}
    x = np.zeros((len(docs), len(feats)), dtype=np.float32)
    for r, d in enumerate(docs):
        for f, tf in d.items():
            i = index.get(f)
            if i is not None:
                x[r, i] = (1.0 + math.log(tf)) * idf[f]
    norms = np.sqrt((x * x).sum(1, keepdims=True))
    x /= np.maximum(norms, 1e-9)
    y = np.array([classes.index(lab) for lab in labels])
    onehot = np.eye(len(classes), dtype=np.float32)[y]
    w = np.zeros((len(feats), len(classes)), dtype=np.float32)
    b = np.log(onehot.mean(0) + 1e-6).astype(np.float32)
    mw, vw = np.zeros_like(w), np.zeros_like(w)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    lr, b1, b2 = 0.1, 0.9, 0.999
    n = len(docs)
    for t in range(1, epochs + 1):  # full-batch Adam on the softmax cross-entropy + L2
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) / n
        gw = x.T @ g + l2 * w
        gb = g.sum(0)
        mw = b1 * mw + (1 - b1) * gw
        vw = b2 * vw + (1 - b2) * gw * gw
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        w -= lr * (mw / (1 - b1**t)) / (np.sqrt(vw / (1 - b2**t)) + 1e-8)
        b -= lr * (mb / (1 - b1**t)) / (np.sqrt(vb / (1 - b2**t)) + 1e-8)
    return w, b


def learn(
    rows: Sequence[tuple[str, str]],
    out: Path | str,
    *,
    min_support: int = 2,
    per_label: int = 400,
    l2: float = 1e-3,
    min_weight: float = 0.05,
    source: str = "",
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
    docs = tokenize_all(texts)
    ranked = _log_odds(docs, labels, min_support)
    chosen: dict[str, tuple[str, float, int]] = {}
    for lab in classes:
        for f, z, sup in ranked.get(lab, [])[:per_label]:
            if f not in chosen or z > chosen[f][1]:
                chosen[f] = (lab, z, sup)
    feats = sorted(chosen)
    n_docs = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(f for f in d if f in chosen)
    idf = {f: math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in feats}
    w, b = _fit(docs, labels, feats, classes, l2, idf)
    support: dict[str, Counter[str]] = defaultdict(Counter)
    for d, lab in zip(docs, labels, strict=True):
        for f in d:
            if f in chosen:
                support[f][lab] += 1
    lines: list[str] = []
    counts = Counter(labels)
    b = b - b.max()
    meta: dict[str, Any] = {
        "learned": True,
        "target": target,
        "source": source,
        "rows": len(rows),
        "labels": dict(sorted(counts.items())),
        "method": f"log-odds (informative prior) top {per_label}/label with support >= {min_support}; "
                  f"softmax regression on L2-normalised tf-idf of those features, L2={l2}; weights shifted >= 0; "
                  "score of a label = sum(weight * (1 + ln count) * idf) / norm + prior",
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
    safe = re.compile(r"[^0-9a-zA-Z\u4e00-\u9fff]+")
    for lab in classes:
        for k, (weight, f) in enumerate(sorted(per[lab], key=lambda t: -t[0]), 1):
            parts = f.split(" ")
            pattern: Any = parts[0] if len(parts) == 1 else [{"ORTH": p} for p in parts]
            rule = {
                "id": f"learned.{safe.sub('_', lab)}.{k:04d}",
                "target": target,
                "label": lab,
                "weight": round(weight, 3),
                "idf": round(idf[f], 3),
                "pattern": pattern,
                "support": dict(support[f]),
            }
            lines.append(json.dumps(rule, ensure_ascii=False))
            n_rules += 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return LearnReport(rows=len(rows), labels=dict(counts), rules=n_rules, target=target, out=out)
