"""``shanzhi bench classify``: the classifier against plain ``jieba.lcut`` on the same messages.

Honest by construction: every message is classified from scratch (no result cache; the file may repeat texts),
both loops run in the same process on the same list, alternately, best round of each kept; the model is loaded
before timing starts (load time is reported apart). Each loop is timed in wall time and in CPU time (``time.process_time``: less disturbed by
other work on a shared machine). A decision's evidence is worked out when it is read (see ``types.Reasons``);
the bot reads it for the complaints it registers, so the loop reads it for every complaint. The classifier is timed
on batches as the bot reads its inbox, and one message at a time.
"""

from __future__ import annotations

import csv
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classifiers.corpus import raise_csv_limit as _raise_csv_limit
from classifiers.types import Classification


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


def _read_as_the_bot_does(c: Classification) -> int:
    """1 if the bot acts on the message. Its evidence is read for every complaint, as the bot reads it for the
    tickets it opens (the complaints that join an open ticket do not need it: reading it for them too is the
    upper bound)."""
    intent = c.acted_intent(0.45)
    if intent == "complaint":
        c.explain()
    return intent != "other"


def bench(
    texts: Sequence[str],
    *,
    model: Path | str | None = None,
    rounds: int = 3,
    batch: int = 32,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Both loops ``rounds`` times, alternately, each side's best round kept (as ``timeit`` keeps its best): a
    shared machine's load comes and goes, and alternating keeps a slow spell from falling on one side only.

    The classifier reads the messages in batches of ``batch``, as the bot reads its inbox (the CLI passes the
    bot's batch size); one message at a time is measured too, as a third loop, and reported beside it. What start-up
    loaded is frozen out of the garbage collector's sight first, as the bot does after start-up."""
    import jieba

    from classifiers.model import classify, classify_many, load_model

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    m = load_model(model)
    jieba.initialize()
    load_s = time.perf_counter() - t0
    rss = rss_mb()
    say(
        f"loaded {m.source} ({len(m)} features, {len(m.rules.rules)} rules) in {load_s:.2f} s, RSS {rss:.0f} MB; "
        f"{len(texts)} messages, {rounds} rounds, batches of {batch}"
    )
    # warm every path on a few messages so none pays one-off costs inside the timing
    for t in texts[:50]:
        classify(t, m)
        jieba.lcut(t)
    classify_many(texts[:batch], m)
    gc.collect()
    gc.freeze()
    lcut = jieba.lcut
    size = max(1, batch)
    batches = [texts[i : i + size] for i in range(0, len(texts), size)]

    def jieba_loop() -> None:
        for t in texts:
            lcut(t)

    def batch_loop() -> int:
        acted = 0
        for b in batches:
            for c in classify_many(b, m):
                acted += _read_as_the_bot_does(c)
        return acted

    def single_loop() -> int:
        acted = 0
        for t in texts:
            acted += _read_as_the_bot_does(classify(t, m))
        return acted

    best = {"jieba": (float("inf"), float("inf")), "batch": (float("inf"), float("inf"))}
    best["single"] = best["batch"]
    actionable = 0
    for r in range(max(1, rounds)):
        line = []
        for name, loop in (("jieba", jieba_loop), ("batch", batch_loop), ("single", single_loop)):
            w, c, out = _time(loop)
            best[name] = (min(best[name][0], w), min(best[name][1], c))
            if name == "batch":
                actionable = out
            line.append(f"{name} {w:.2f} s")
        say(f"round {r + 1}: " + ", ".join(line) + f" ({actionable} acted on)")
    gc.unfreeze()
    n = len(texts)

    def per_s(name: str) -> float:
        return n / best[name][0] if best[name][0] > 0 else float("inf")

    def ratio(name: str, i: int) -> float | None:
        return round(best["jieba"][i] / best[name][i], 4) if best[name][i] > 0 else None

    return {
        "messages": n,
        "rounds": max(1, rounds),
        "batch": size,
        "classifier_msgs_per_s": round(per_s("batch"), 1),
        "jieba_msgs_per_s": round(per_s("jieba"), 1),
        "ratio": ratio("batch", 0),
        "cpu_ratio": ratio("batch", 1),
        "single_msgs_per_s": round(per_s("single"), 1),
        "single_ratio": ratio("single", 0),
        "acted_on": actionable,
        "rss_mb": round(rss_mb(), 1),
    }
