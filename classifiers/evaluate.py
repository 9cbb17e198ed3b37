"""Figures of a classifier on labelled messages (``shanzhi eval``, cross-validation).

The intent scored is the one the bot acts on: an emergency is a complaint; otherwise the top label if its
confidence reaches the middle threshold, else ``other``. Every figure with nothing to score is ``None`` (JSON
``null``), never NaN.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from classifiers.corpus import Example
from classifiers.types import EMERGENCY_KINDS, INTENTS, Classification

ACTIONABLE = ("complaint", "consultation")


@dataclass(frozen=True)
class Scored:
    row: Example
    result: Classification
    acted: str  # intent the bot acts on

    @property
    def predicted_urgent(self) -> bool:
        return self.result.urgent


def score_rows(
    rows: Iterable[Example],
    classify: Callable[[str], Classification],
    middle: float = 0.45,
    *,
    many: Callable[[Sequence[str]], list[Classification]] | None = None,
) -> list[Scored]:
    """Each row classified (by ``many`` in batches where given: the same results, sooner)."""
    rows = list(rows)
    if many is not None:
        results = [c for i in range(0, len(rows), 256) for c in many([r.text for r in rows[i : i + 256]])]
    else:
        results = [classify(r.text) for r in rows]
    return [Scored(row=row, result=res, acted=res.acted_intent(middle)) for row, res in zip(rows, results)]


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    p = _ratio(tp, tp + fp)
    r = _ratio(tp, tp + fn)
    f = (
        round(2 * p * r / (p + r), 4)
        if p is not None and r is not None and (p + r) > 0
        else (0.0 if p is not None and r is not None else None)
    )
    return {"precision": p, "recall": r, "f1": f}


def metrics(scored: Sequence[Scored]) -> dict[str, Any]:
    """The JSON object of ``shanzhi eval --json``."""
    with_intent = [s for s in scored if s.row.intent is not None]
    intent: dict[str, Any] = {}
    for lab in INTENTS:
        tp = sum(1 for s in with_intent if s.acted == lab and s.row.intent == lab)
        fp = sum(1 for s in with_intent if s.acted == lab and s.row.intent != lab)
        fn = sum(1 for s in with_intent if s.acted != lab and s.row.intent == lab)
        intent[lab] = _prf(tp, fp, fn)

    pred_act = [s.acted in ACTIONABLE for s in scored]
    tp = sum(1 for s in with_intent if s.acted in ACTIONABLE and s.row.intent in ACTIONABLE)
    fp = sum(1 for s in with_intent if s.acted in ACTIONABLE and s.row.intent not in ACTIONABLE)
    fn = sum(1 for s in with_intent if s.acted not in ACTIONABLE and s.row.intent in ACTIONABLE)
    actionable = {
        "rate": _ratio(sum(pred_act), len(scored)),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }

    gold_c = [s for s in with_intent if s.row.intent == "complaint" and s.row.category]
    acc = _ratio(sum(1 for s in gold_c if s.result.category == s.row.category), len(gold_c))
    labels = sorted(
        {s.row.category for s in gold_c if s.row.category} | {s.result.category for s in gold_c if s.result.category}
    )
    f1s = []
    for lab in labels:
        ctp = sum(1 for s in gold_c if s.row.category == lab and s.result.category == lab)
        cfp = sum(1 for s in gold_c if s.row.category != lab and s.result.category == lab)
        cfn = sum(1 for s in gold_c if s.row.category == lab and s.result.category != lab)
        f1s.append(_prf(ctp, cfp, cfn)["f1"] or 0.0)
    category = {"accuracy": acc, "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else None}

    with_urg = [s for s in scored if s.row.urgent is not None]
    utp = sum(1 for s in with_urg if s.predicted_urgent and s.row.urgent)
    ufp = sum(1 for s in with_urg if s.predicted_urgent and not s.row.urgent)
    ufn = sum(1 for s in with_urg if not s.predicted_urgent and s.row.urgent)
    urgent: dict[str, Any] = {"precision": _ratio(utp, utp + ufp), "recall": _ratio(utp, utp + ufn)}
    kinds = {}
    for kind in EMERGENCY_KINDS:
        of_kind = [s for s in with_urg if s.row.urgent and s.row.emergency == kind]
        if of_kind:
            kinds[kind] = {
                "n": len(of_kind),
                "recall": _ratio(sum(1 for s in of_kind if s.predicted_urgent), len(of_kind)),
            }
    if kinds:
        urgent["by_kind"] = kinds
    return {"n": len(scored), "intent": intent, "actionable": actionable, "category": category, "urgent": urgent}


def evaluate_rows(
    rows: Iterable[Example], classify: Callable[[str], Classification], middle: float = 0.45
) -> dict[str, Any]:
    """Classify ``rows`` and return the eval JSON object (see ``metrics``)."""
    return metrics(score_rows(rows, classify, middle))


# ---------------------------------------------------------------- readable report
def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def _cut(text: str, n: int = 60) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def misses(scored: Sequence[Scored]) -> list[Scored]:
    """Wrong rows, most harmful first: false tickets and missed complaints, by confidence."""
    wrong = [s for s in scored if s.row.intent is not None and s.acted != s.row.intent]
    wrong += [s for s in scored if s.row.urgent and not s.predicted_urgent and s not in wrong]
    wrong += [s for s in scored if s.row.urgent is False and s.predicted_urgent and s not in wrong]

    def harm(s: Scored) -> tuple[int, float]:
        kind = 0 if (s.row.urgent and not s.predicted_urgent) else 1 if s.acted == "complaint" else 2
        return kind, -s.result.confidence

    return sorted(wrong, key=harm)


def report(scored: Sequence[Scored], m: dict[str, Any] | None = None, worst: int = 25) -> str:
    m = m or metrics(scored)
    lines = [f"messages: {m['n']}", "", f"{'intent':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'gold n':>8}"]
    gold = Counter(s.row.intent for s in scored if s.row.intent)
    for lab in INTENTS:
        d = m["intent"][lab]
        lines.append(f"{lab:<14}{_fmt(d['precision']):>10}{_fmt(d['recall']):>10}{_fmt(d['f1']):>10}{gold[lab]:>8}")
    a, c, u = m["actionable"], m["category"], m["urgent"]
    lines += [
        "",
        f"actionable    rate {_fmt(a['rate'])}  precision {_fmt(a['precision'])}  recall {_fmt(a['recall'])}",
        f"category      accuracy {_fmt(c['accuracy'])}  macro-F1 {_fmt(c['macro_f1'])}  (gold complaints)",
        f"urgent        precision {_fmt(u['precision'])}  recall {_fmt(u['recall'])}",
    ]
    for kind, d in (u.get("by_kind") or {}).items():
        lines.append(f"  {kind:<20}recall {_fmt(d['recall'])}  (n {d['n']})")
    if gold:
        lines += ["", "confusion (rows gold, columns acted on):", " " * 14 + "".join(f"{p:>14}" for p in INTENTS)]
        for g in INTENTS:
            cnt = Counter(s.acted for s in scored if s.row.intent == g)
            lines.append(f"{g:<14}" + "".join(f"{cnt[p]:>14}" for p in INTENTS))
    cats = sorted({s.row.category for s in scored if s.row.intent == "complaint" and s.row.category})
    if cats and len(cats) <= 20:
        lines += ["", "category confusion (gold complaints; rows gold, columns predicted):"]
        pred_labels = cats + sorted(
            {str(s.result.category) for s in scored if s.row.intent == "complaint" and s.row.category} - set(cats)
        )
        w = max(6, *(len(x) + 1 for x in pred_labels))
        lines.append(" " * 14 + "".join(f"{p[: w - 1]:>{w}}" for p in pred_labels))
        for g in cats:
            cnt = Counter(str(s.result.category) for s in scored if s.row.intent == "complaint" and s.row.category == g)
            lines.append(f"{g[:13]:<14}" + "".join(f"{cnt[p]:>{w}}" for p in pred_labels))
    bad = misses(scored)
    if bad:
        lines += ["", f"worst misses ({min(worst, len(bad))} of {len(bad)}):"]
        for s in bad[:worst]:
            g = f"{s.row.intent}{'/' + s.row.category if s.row.category else ''}{'/URGENT' if s.row.urgent else ''}"
            p = f"{s.acted}{'/' + s.result.category if s.result.category else ''}{'/URGENT' if s.predicted_urgent else ''}"
            lines.append(f"  {s.row.id}: gold {g} → {p} ({s.result.confidence:.2f})  {_cut(s.row.text)}")
            lines.append(f"      rules: {s.result.explain()}")
    return "\n".join(lines)
