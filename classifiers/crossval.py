"""Leave-one-county-out cross-validation: train on every other county, score the one held out.

A county the model has never seen is what the bot meets when it is installed somewhere new; the dev set's own
figures (tuned on) say little about that. Beside the model, the same folds train the baseline any learned
classifier has to beat: TF-IDF over character 1–3-grams with a linear SVM per head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifiers import segment
from classifiers.corpus import Example
from classifiers.evaluate import Scored, metrics, score_rows
from classifiers.handrules import RuleSet
from classifiers.model import Model
from classifiers.train import TrainConfig, featurize, train
from classifiers.types import Classification

#: (name in the table, path into eval's JSON) of every figure the issue's targets name
FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complaint P", ("intent", "complaint", "precision")),
    ("complaint R", ("intent", "complaint", "recall")),
    ("consultation F1", ("intent", "consultation", "f1")),
    ("category macro-F1", ("category", "macro_f1")),
    ("urgent P", ("urgent", "precision")),
    ("urgent R", ("urgent", "recall")),
)
RELIABILITY_BINS = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0001)


def figure(m: dict[str, Any], path: Sequence[str]) -> float | None:
    v: Any = m
    for k in path:
        v = v.get(k) if isinstance(v, dict) else None
    return v


class SvmBaseline:
    """TF-IDF (character 1–3-grams, sublinear tf) + LinearSVC per head, fitted on the same training rows."""

    def __init__(self, examples: Sequence[Example]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        texts = [segment.normalize(e.text) for e in examples]
        x = self.vec.fit_transform(texts)

        def fit(rows: list[int], y: list[str]) -> Any:
            if len(set(y)) < 2:
                return None
            return LinearSVC(C=1.0).fit(x[rows], y)

        intent_rows = [i for i, e in enumerate(examples) if e.intent]
        self.intent = fit(intent_rows, [examples[i].intent or "" for i in intent_rows])
        cat_rows = [i for i, e in enumerate(examples) if e.intent == "complaint" and e.category]
        self.category = fit(cat_rows, [examples[i].category or "" for i in cat_rows])
        urg_rows = [i for i, e in enumerate(examples) if e.urgent is not None]
        self.urgent = fit(urg_rows, ["1" if examples[i].urgent else "0" for i in urg_rows])

    def classify(self, text: str) -> Classification:
        x = self.vec.transform([segment.normalize(text)])
        intent = str(self.intent.predict(x)[0]) if self.intent is not None else "other"
        cat = str(self.category.predict(x)[0]) if self.category is not None else None
        urgent = bool(self.urgent is not None and self.urgent.predict(x)[0] == "1")
        return Classification(intent=intent, confidence=1.0, category=cat, urgent=urgent)


@dataclass
class Fold:
    county: str
    n: int
    model: dict[str, Any]
    baseline: dict[str, Any] | None
    scored: list[Scored] = field(default_factory=list)


@dataclass
class CrossValidation:
    folds: list[Fold]
    pooled: dict[str, Any]  # the model's figures over every held-out message together
    pooled_baseline: dict[str, Any] | None
    reliability: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path in FIGURES:
            row: dict[str, Any] = {}
            for who, get in (("model", lambda f: f.model), ("svm", lambda f: f.baseline)):
                vals = [(figure(get(f), path), f.county) for f in self.folds if get(f) is not None]
                vals = [(v, c) for v, c in vals if v is not None]
                if not vals:
                    continue
                worst = min(vals)
                row[who] = {
                    "mean": round(sum(float(v) for v, _ in vals if v is not None) / len(vals), 4),
                    "worst": worst[0],
                    "worst_county": worst[1],
                }
            out[name] = row
        return {
            "figures": out,
            "pooled": self.pooled,
            "pooled_svm": self.pooled_baseline,
            "urgent_by_kind": dict(self.pooled.get("urgent", {}).get("by_kind") or {}),
            "reliability": self.reliability,
            "folds": [{"county": f.county, "n": f.n, "model": f.model, "svm": f.baseline} for f in self.folds],
        }


def reliability(scored: Sequence[Scored]) -> list[dict[str, Any]]:
    """Predicted confidence of the top intent against how often it is right, in bins (held-out predictions)."""
    out = []
    rows = [(s.result.confidence, s.result.intent == s.row.intent) for s in scored if s.row.intent]
    for lo, hi in zip(RELIABILITY_BINS, RELIABILITY_BINS[1:]):
        inside = [(c, ok) for c, ok in rows if lo <= c < hi]
        if not inside:
            continue
        out.append(
            {
                "bin": f"{lo:.2f}–{min(hi, 1.0):.2f}",
                "n": len(inside),
                "predicted": round(float(np.mean([c for c, _ in inside])), 3),
                "observed": round(float(np.mean([ok for _, ok in inside])), 3),
            }
        )
    return out


def leave_one_county_out(
    examples: Sequence[Example],
    rules: RuleSet,
    cfg: TrainConfig = TrainConfig(),
    *,
    held: Sequence[str] | None = None,
    baseline: bool = True,
    middle: float = 0.45,
    calibrate: bool = True,
    progress: Callable[[str], Any] | None = None,
) -> CrossValidation:
    """Hold out each county of ``held`` (default: every county) in turn. Examples of other groups (public
    text, corrections) are always in training."""
    say = progress or (lambda _m: None)
    counties = list(held) if held is not None else sorted({e.county for e in examples})
    docs = featurize(examples, rules, cfg.features)  # features do not depend on the training data
    folds: list[Fold] = []
    all_scored: list[Scored] = []
    all_base: list[Scored] = []
    for county in counties:
        tr = [i for i, e in enumerate(examples) if e.county != county]
        te = [examples[i] for i, e in enumerate(examples) if e.county == county]
        if not te:
            continue
        meta, weights = train([examples[i] for i in tr], rules, cfg, docs=[docs[i] for i in tr], calibrate=calibrate)
        model = Model(meta, weights, rules)
        scored = score_rows(te, model.classify, middle, many=model.classify_many)
        m = metrics(scored)
        b = None
        if baseline:
            svm = SvmBaseline([examples[i] for i in tr])
            bs = score_rows(te, svm.classify, middle)
            all_base.extend(bs)
            b = metrics(bs)
        folds.append(Fold(county, len(te), m, b, scored))
        all_scored.extend(scored)
        say(
            f"{county}: n={len(te)} "
            + ", ".join(f"{name} {figure(m, path)}" + (f"/{figure(b, path)}" if b else "") for name, path in FIGURES)
        )
    return CrossValidation(folds, metrics(all_scored), metrics(all_base) if baseline else None, reliability(all_scored))


def table(cv: CrossValidation) -> str:
    """The leave-one-county-out table: mean and worst county for each figure, the model beside the SVM."""
    s = cv.summary()
    lines = [f"{'figure':<20}{'model mean':>11}{'worst':>8}  {'(county)':<12}{'svm mean':>9}{'worst':>8}"]
    for name, row in s["figures"].items():
        m, b = row.get("model", {}), row.get("svm", {})

        def f(v: Any) -> str:
            return "  -  " if v is None else f"{v:.3f}"

        lines.append(
            f"{name:<20}{f(m.get('mean')):>11}{f(m.get('worst')):>8}  {str(m.get('worst_county', '')):<12}"
            f"{f(b.get('mean')):>9}{f(b.get('worst')):>8}"
        )
    if s["urgent_by_kind"]:
        lines += ["", "urgent recall by kind (all held-out counties):"]
        for kind, d in s["urgent_by_kind"].items():
            lines.append(f"  {kind:<20}{d['recall']:.3f}  (n {d['n']})")
    lines += [
        "",
        "reliability of the intent confidence (held-out predictions):",
        f"  {'bin':<12}{'n':>6}{'predicted':>11}{'observed':>10}",
    ]
    for r in s["reliability"]:
        lines.append(f"  {r['bin']:<12}{r['n']:>6}{r['predicted']:>11.3f}{r['observed']:>10.3f}")
    return "\n".join(lines)
