"""The learned classifier: a log-linear model per head over the features of a message.

Heads: ``intent`` (complaint / consultation / other), ``category`` (the matter of a complaint), ``urgent``
(life, safety or property at immediate risk) and ``emergency`` (which kind). For each head and label the score
is the head's bias plus the learned weights of the features present times their values (a long message is not
surer for having more words: see the file format below); probabilities are the
softmax (sigmoid for ``urgent``) of the scores divided by the head's temperature, fitted on held-out
predictions so that a confidence of 0.75 is right about three times in four.

The model file is JSONL: a ``{"meta": ...}`` line (heads, labels, biases, temperatures, the urgent threshold,
the feature kinds, what it was trained on), then one line a feature with its idf and its learned weight per head
and label, ``{"feature": "rule:urgent.gas", "idf": 5.1, "intent": {"complaint": 0.8, ...}, "urgent": {"urgent":
2.1}, ...}``. A feature's value in a message is its idf, the message's vector scaled to length 1 (``scale:
"idf"``): a label's score is its bias plus Σ weight·idf over the features present, divided by √(Σ idf²).
A reviewer can read, diff and hand-edit it; `shanzhi rules train` writes it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from classifiers import features as feats
from classifiers.handrules import RuleSet, load_rules
from classifiers.types import Classification, Evidence, Reasons

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).parent / "model"
DEFAULT_MODEL = MODEL_DIR / "default.jsonl"
FORMAT = "shanzhi-linear/1"
HEADS = ("intent", "category", "urgent", "emergency")
#: Evidence kept per head: the largest contributions to the label it chose.
EVIDENCE_PER_HEAD = {"intent": 6, "category": 3, "urgent": 3, "emergency": 2}


class ModelError(ValueError):
    """A model file is malformed or does not fit the rules it names."""


@dataclass(frozen=True)
class Head:
    name: str
    labels: tuple[str, ...]
    bias: tuple[float, ...]
    temperature: float
    start: int  # first column of the head in the weight matrix

    @property
    def columns(self) -> slice:
        return slice(self.start, self.start + len(self.labels))


class Model:
    """Weights, heads and the rules whose firing they weigh; ``classify`` is a pure function of the text."""

    def __init__(
        self,
        meta: dict[str, Any],
        weights: dict[str, dict[str, Any]],
        rules: RuleSet,
        *,
        urgent_threshold: float | None = None,
        source: str = "",
    ) -> None:
        self.meta = meta
        self.rules = rules
        self.source = source
        self.config = feats.FeatureConfig.from_json(meta.get("features") or {})
        self.scale = str(meta.get("scale", "idf"))
        heads: list[Head] = []
        col = 0
        for name in HEADS:
            h = (meta.get("heads") or {}).get(name)
            if not h:
                continue
            labels = tuple(h["labels"])
            bias = tuple(float(h.get("bias", {}).get(lb, 0.0)) for lb in labels)
            heads.append(Head(name, labels, bias, float(h.get("temperature", 1.0)), col))
            col += len(labels)
        if not heads or heads[0].name != "intent":
            raise ModelError(f"{source}: a model needs at least an intent head")
        self.heads = {h.name: h for h in heads}
        self.keys = list(weights)
        # float32: half the memory and a faster gather; the sums differ from float64 by about 1e-6
        w = np.zeros((len(weights) + 1, col), dtype=np.float32)
        idf = np.ones(len(weights) + 1, dtype=np.float32)
        for i, (key, per_head) in enumerate(weights.items()):
            for name, lw in per_head.items():
                if name == "idf":
                    idf[i] = float(lw)
                    continue
                head = self.heads.get(name)
                if head is None:
                    raise ModelError(f"{source}: feature {key} has weights for unknown head {name}")
                for label, v in lw.items():
                    try:
                        j = head.labels.index(label)
                    except ValueError:
                        raise ModelError(f"{source}: feature {key}: {name} has no label {label}") from None
                    w[i, head.start + j] = float(v)
        if self.scale == "idf":  # a feature's value is its idf (over the message's length): fold it in once
            w *= idf[:, None]
        temperature = np.array([h.temperature for h in heads for _ in h.labels], dtype=np.float32)
        # Each head's temperature divides its scores (z/T = Σw/T·x + b/T): folded into the weights and biases once,
        # so scoring a message is one gather and one sum. Two more columns: each feature's idf² and whether it
        # carries content (rule, word, pair, chars — not form: shape, sym), so the same sum gives the message's
        # length and whether it says anything. A last all-zero row is what an empty segment of a batch points at
        # (see classify_many).
        content = np.array([k[0] in _CONTENT for k in self.keys] + [False], dtype=np.float32)
        self.weights = np.vstack(
            [np.hstack([w / temperature, (idf * idf)[:, None], content[:, None]]), np.zeros((1, col + 2))]
        ).astype(np.float32)
        self.n_cols = col
        self.zero_row = len(self.weights) - 1
        self.bias = np.array([b / h.temperature for h in heads for b in h.bias], dtype=np.float64)
        self.reader = feats.Reader(self.keys, rules, self.config)
        default_threshold = float(meta.get("urgent_threshold", 0.5))
        self.urgent_threshold = default_threshold if urgent_threshold is None else float(urgent_threshold)

    @property
    def categories(self) -> tuple[str, ...]:
        head = self.heads.get("category")
        return head.labels if head else ()

    def __len__(self) -> int:
        return len(self.keys)

    def classify(self, text: str) -> Classification:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Each text classified on its own, the arithmetic done for the batch at once: the bot reads its inbox in
        batches, and one gather, one segmented sum and one softmax per head over the batch cost less than the same
        steps a message at a time. The result of a text does not depend on the others in its batch."""
        rows, bounds, matched = self.reader.read_many(texts)
        n, count = self.n_cols, len(texts)
        g = self.weights.take(np.append(rows, self.zero_row), axis=0)  # the present features' rows
        sizes = np.diff(bounds)
        sums = np.add.reduceat(g, bounds[:-1], axis=0, dtype=np.float64)
        empty = sizes == 0
        sums[empty] = 0.0
        if self.scale == "idf":
            length = sums[:, n]
        else:
            length = sizes.astype(np.float64) if self.scale == "sqrt" else np.ones(count)
        s = 1.0 / np.sqrt(np.where(empty, 1.0, length))
        z = sums[:, :n] * s[:, None] + self.bias
        uh = self.heads.get("urgent")
        if uh is None:
            urgency = np.zeros(count)
        else:
            with np.errstate(over="ignore"):
                urgency = 1.0 / (1.0 + np.exp(-z[:, uh.start]))
        # A message of nothing but punctuation, emoji or its length ("!!!", "🆘🆘") says neither what is happening
        # nor where: however its marks read, there is nothing for anyone to act on.
        urgent = ((urgency >= self.urgent_threshold) & (sums[:, n + 1] > 0)).tolist()
        ih = self.heads["intent"]
        zi = z[:, ih.columns]
        e = np.exp(zi - zi.max(axis=1, keepdims=True))
        pi = e / e.sum(axis=1, keepdims=True)
        intents = pi.argmax(axis=1).tolist()
        ch, eh = self.heads.get("category"), self.heads.get("emergency")
        cats = z[:, ch.columns].argmax(axis=1).tolist() if ch is not None else [None] * count
        kinds = z[:, eh.columns].argmax(axis=1).tolist() if eh is not None else [None] * count
        labels = ih.labels
        out: list[Classification] = []
        scale = s.tolist()
        for i, (p, k, u, c, kind, urg) in enumerate(zip(pi.tolist(), intents, urgent, cats, kinds, urgency.tolist())):
            intent = labels[k]
            category = ch.labels[c] if ch is not None and c is not None else None
            emergency = eh.labels[kind] if u and eh is not None and kind is not None else None
            chosen = {
                "intent": intent,
                "category": category if intent == "complaint" or u else None,
                "urgent": "urgent" if u else None,
                "emergency": emergency,
            }
            a, b = bounds[i], bounds[i + 1]
            out.append(
                Classification(
                    intent=intent,
                    confidence=round(p[k], 4),
                    category=category,
                    urgent=u,
                    scores={lb: round(v, 4) for lb, v in zip(labels, p)},
                    evidence=Reasons(partial(self._evidence, rows[a:b], g[a:b], matched[i], scale[i], chosen))
                    if b > a
                    else (),
                    urgency=round(urg, 4),
                    emergency=emergency,
                )
            )
        return out

    def _evidence(
        self, idx: np.ndarray, g: np.ndarray, matched: dict[int, str], s: float, chosen: dict[str, str | None]
    ) -> tuple[Evidence, ...]:
        picked = [
            (name, label, self.heads[name])
            for name, label in chosen.items()
            if label is not None and name in self.heads
        ]
        cols = [h.start + h.labels.index(label) for _n, label, h in picked]
        # contributions to each chosen label, largest first; a stable sort keeps equal ones in file order (idx is
        # sorted). The weights carry 1/temperature (see __init__): times it again, a contribution is in score units.
        scale = np.array([s * h.temperature for _n, _l, h in picked], dtype=np.float32)
        contrib = g[:, cols] * scale  # a row per feature present, a column per chosen label
        order = np.argsort(-contrib, axis=0, kind="stable")[: max(EVIDENCE_PER_HEAD.values())]
        values = np.take_along_axis(contrib, order, axis=0).T.tolist()
        rows = idx[order].T.tolist()
        out: list[Evidence] = []
        keys = self.keys
        for top, vals, (name, label, _h) in zip(rows, values, picked):
            for row, v in zip(top[: EVIDENCE_PER_HEAD[name]], vals):
                if v <= 0.005:
                    break
                key = keys[row]
                out.append(Evidence(key, name, label, matched.get(row) or shown(key), round(v, 3)))
        return tuple(out)


#: first letters of the feature kinds that carry content (rule, word, pair, chars), not form (shape, sym)
_CONTENT = frozenset("rwpc")


def shown(key: str) -> str:
    """The words of the message a (non-rule) feature stands for."""
    kind, _, name = key.partition(":")
    if kind == "pair":
        return name.replace(" ", "")
    return "" if kind == "shape" else name


def read_model_file(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    meta: dict[str, Any] | None = None
    weights: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}:{lineno}: not JSON: {exc}") from exc
        if "meta" in obj:
            meta = obj["meta"]
            if meta.get("format") != FORMAT:
                raise ModelError(f"{path}:{lineno}: format must be {FORMAT}")
            continue
        key = obj.pop("feature", None)
        if not isinstance(key, str) or not key:
            raise ModelError(f"{path}:{lineno}: each line needs a feature")
        if key in weights:
            raise ModelError(f"{path}:{lineno}: feature {key} appears twice")
        weights[key] = {
            h: float(lw) if h == "idf" else {str(lb): float(v) for lb, v in lw.items()} for h, lw in obj.items()
        }
    if meta is None:
        raise ModelError(f"{path}: no meta line")
    return meta, weights


def write_model_file(path: Path, meta: dict[str, Any], weights: dict[str, dict[str, Any]]) -> None:
    lines = [json.dumps({"meta": meta}, ensure_ascii=False, sort_keys=True)]
    for key in sorted(weights):
        lines.append(json.dumps({"feature": key, **weights[key]}, ensure_ascii=False, sort_keys=True))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def rules_of(meta: dict[str, Any], base: Path) -> RuleSet:
    """The rule set a model was trained with (its features are those rules' ids)."""
    r = meta.get("rules") or {}
    extra = [p if Path(p).is_absolute() else str(base / p) for p in r.get("extra", [])]
    return load_rules(extra, include_default=bool(r.get("include_default", True)))


_CACHE: dict[tuple[str, float | None], Model] = {}
_LOCK = threading.Lock()


def load_model(path: Path | str | None = None, *, urgent_threshold: float | None = None) -> Model:
    """A model file (default: the shipped one), loaded once per process."""
    p = Path(path) if path else DEFAULT_MODEL
    key = (str(p.resolve()), urgent_threshold)
    with _LOCK:
        m = _CACHE.get(key)
        if m is None:
            meta, weights = read_model_file(p)
            m = _CACHE[key] = Model(
                meta, weights, rules_of(meta, p.parent), urgent_threshold=urgent_threshold, source=str(p)
            )
            log.info("loaded model %s: %d features, %d rules", p, len(m), len(m.rules.rules))
    return m


def _unreadable() -> Classification:
    return Classification(intent="other", confidence=1.0, category=None, urgent=False)


def classify(text: str, model: Model) -> Classification:
    """Classify one message. Pure (same text and model → same result) and never raises."""
    try:
        return model.classify(text)
    except Exception:
        log.exception("classifier failed on a message of %d chars", len(text) if isinstance(text, str) else -1)
        return _unreadable()


def classify_many(texts: Sequence[str], model: Model) -> list[Classification]:
    """Classify a batch, each text as `classify` would. Never raises: if the batch fails, each text is classified on
    its own, so one text the scorer cannot read costs only its own reading."""
    try:
        return model.classify_many(texts)
    except Exception:
        log.exception("classifier failed on a batch of %d messages; classifying them one by one", len(texts))
        return [classify(t, model) for t in texts]


class Classifier:
    """A loaded model as the bot uses it: called on one text, or `many` on a batch (the bot reads its inbox in
    batches; see `Model.classify_many`). Never raises."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def __call__(self, text: str) -> Classification:
        return classify(text, self.model)

    def many(self, texts: Sequence[str]) -> list[Classification]:
        return classify_many(texts, self.model)
