"""``shanzhi bench classify``: the classifier against plain ``jieba.lcut`` on the same messages.

Honest by construction: every message is classified from scratch (no result cache; the file may repeat texts),
both loops run in the same process on the same list, alternately, best round of each kept; the model is loaded
before timing starts (load time is reported apart). Each loop is timed in wall time and in CPU time (``time.process_time``: less disturbed by
other work on a shared machine). A decision's evidence is worked out when it is read (see ``types.Reasons``);
the bot reads it only for the messages it acts on, so the loop reads it for those too.
"""

from __future__ import annotations

import csv
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classifiers.corpus import raise_csv_limit as _raise_csv_limit


def read_texts(path: Path | str, *, text_columns: Sequence[str] | None = None, repeat_to: int = 0) -> list[str]:
    """Messages from a CSV (``text`` column, or the given ones joined with 。) or a plain text file."""
    path = Path(path)
    texts: list[str] = []
    if path.suffix.lower() == ".csv":
        _raise_csv_limit()
        cols = list(text_columns or ["text"])
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in cols if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: no column {', '.join(missing)}")
            for rec in reader:
                texts.append("。".join(p for p in ((rec.get(c) or "").strip() for c in cols) if p))
    else:
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if repeat_to and texts and len(texts) < repeat_to:
        texts = (texts * (repeat_to // len(texts) + 1))[:repeat_to]
    return texts


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except Exception:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time(loop: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    out = loop()
    return time.perf_counter() - t, time.process_time() - c, out


def bench(
    texts: Sequence[str],
    *,
    model: Path | str | None = None,
    rounds: int = 3,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Both loops ``rounds`` times, alternately, each side's best round kept (as ``timeit`` keeps its best): a
    shared machine's load comes and goes, and alternating keeps a slow spell from falling on one side only."""
    import jieba

    from classifiers.model import classify, load_model

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    m = load_model(model)
    jieba.initialize()
    load_s = time.perf_counter() - t0
    rss = rss_mb()
    say(
        f"loaded {m.source} ({len(m)} features, {len(m.rules.rules)} rules) in {load_s:.2f} s, RSS {rss:.0f} MB; "
        f"{len(texts)} messages, {rounds} rounds"
    )
    # warm both paths on a few messages so neither pays one-off costs inside the timing
    for t in texts[:50]:
        classify(t, m)
        jieba.lcut(t)
    lcut = jieba.lcut

    def jieba_loop() -> None:
        for t in texts:
            lcut(t)

    def classifier_loop() -> int:
        acted = 0
        for t in texts:
            c = classify(t, m)
            if c.acted_intent(0.45) != "other":
                acted += 1
                len(c.evidence)  # the bot shows why it acts
        return acted

    jieba_s = jieba_cpu = clf_s = clf_cpu = float("inf")
    actionable = 0
    for r in range(max(1, rounds)):
        w, c, _ = _time(jieba_loop)
        jieba_s, jieba_cpu = min(jieba_s, w), min(jieba_cpu, c)
        w2, c2, actionable = _time(classifier_loop)
        clf_s, clf_cpu = min(clf_s, w2), min(clf_cpu, c2)
        say(f"round {r + 1}: jieba.lcut {w:.2f} s, classifier {w2:.2f} s ({actionable} acted on)")
    n = len(texts)
    x = n / clf_s if clf_s > 0 else float("inf")
    y = n / jieba_s if jieba_s > 0 else float("inf")
    return {
        "messages": n,
        "rounds": max(1, rounds),
        "classifier_msgs_per_s": round(x, 1),
        "jieba_msgs_per_s": round(y, 1),
        "ratio": round(x / y, 4) if y else None,
        "cpu_ratio": round(jieba_cpu / clf_cpu, 4) if clf_cpu > 0 else None,
        "acted_on": actionable,
        "rss_mb": round(rss_mb(), 1),
    }
