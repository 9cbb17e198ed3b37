"""What the learned model reads in a message: the hand-written rules that fire, jieba's words and word pairs,
character n-grams, and the shape of the text (its length, a leading 【, a question at the end, a phone number).

A feature is a string key (``rule:urgent.gas``, ``word:停水``, ``pair:自来水 停``, ``chars:停水``,
``shape:len<=5``) with the text it matched, kept for the evidence. Present or not: a feature counts once per
message however often it occurs (a resident who writes 快来人 three times is not three times as urgent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from classifiers import segment
from classifiers.handrules import RuleSet

_second = itemgetter(1)
_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
_PHONE_RE = re.compile(r"(?<!\d)1\d{10}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)|(?<!\d)\d{5,}(?!\d)")
_URL_RE = re.compile(r"https?://|www\.|\.com|\.cn")
_LENGTH_BUCKETS = (2, 5, 10, 20, 50, 100, 200)
_QUESTION_END_RE = re.compile(r"(?:[?？]|吗|么|呢|不|没|冇|啥|咩|伐|没有)[\s\W]*$")


@dataclass(frozen=True)
class FeatureConfig:
    """Which kinds of feature the model uses; written in the model file so training and scoring agree."""

    char_ngrams: tuple[int, ...] = (1, 2, 3)
    word_pairs: bool = True

    def to_json(self) -> dict[str, object]:
        return {"char_ngrams": list(self.char_ngrams), "word_pairs": self.word_pairs}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> FeatureConfig:
        grams = d.get("char_ngrams", [1, 2, 3])
        return cls(
            tuple(int(x) for x in grams) if isinstance(grams, list) else (1, 2, 3), bool(d.get("word_pairs", True))
        )


def _shape(norm: str) -> list[str]:
    n = len(norm)
    out = []
    for b in _LENGTH_BUCKETS:
        if n <= b:
            out.append(f"shape:len<={b}")
            break
    else:
        out.append(f"shape:len>{_LENGTH_BUCKETS[-1]}")
    if not _HAN_RUN_RE.search(norm):
        out.append("shape:no_chinese")
    if norm.startswith(("【", "[")):
        out.append("shape:starts_bracket")
    if norm.startswith(("转", "fw", "forward")):
        out.append("shape:starts_forward")
    if _QUESTION_END_RE.search(norm):
        out.append("shape:ends_question")
    if "!" in norm:
        out.append("shape:exclamation")
    if "@" in norm:
        out.append("shape:mention")
    if _PHONE_RE.search(norm):
        out.append("shape:long_number")
    if _URL_RE.search(norm):
        out.append("shape:link")
    return out


def extract(text: str, rules: RuleSet, config: FeatureConfig) -> dict[str, str]:
    """Feature key -> the words it matched, in the order found (rules first: the evidence reads best so)."""
    norm = segment.normalize(text)
    if not norm:
        return {}
    feats: dict[str, str] = {}
    ws = segment.words(norm)
    for rule, matched in rules.match(norm, ws):
        feats["rule:" + rule.id] = matched
    for k in _shape(norm):
        feats[k] = ""
    for w in ws:
        key = "word:#" if w.isdigit() else "word:" + w
        if key not in feats:
            feats[key] = w
    if config.word_pairs:
        for a, b in zip(ws, ws[1:]):
            if not (a.isdigit() or b.isdigit()):
                key = f"pair:{a} {b}"
                if key not in feats:
                    feats[key] = a + b
    sizes = config.char_ngrams
    if sizes:
        for run in _HAN_RUN_RE.findall(norm):
            m = len(run)
            for n in sizes:
                for i in range(m - n + 1):
                    g = run[i : i + n]
                    key = "chars:" + g
                    if key not in feats:
                        feats[key] = g
        for ch in norm:  # punctuation and emoji (🙏, 👍, ？, 【) say much about chat
            if not ch.isalnum() and not ch.isspace() and not ("\u4e00" <= ch <= "\u9fff"):
                key = "sym:" + ch
                if key not in feats:
                    feats[key] = ch
    return feats


class Reader:
    """``extract`` restricted to the features a model knows, as row numbers of its weight matrix: what scoring
    one message needs, without building a key for every n-gram the model never saw (a property test checks it
    finds exactly the known keys of ``extract``)."""

    def __init__(self, keys: Iterable[str], rules: RuleSet, config: FeatureConfig) -> None:
        self.rules = rules
        self.config = config
        self.by_kind: dict[str, dict[str, int]] = {}
        for row, key in enumerate(keys):
            kind, _, name = key.partition(":")
            self.by_kind.setdefault(kind, {})[name] = row
        self.rule_rows = {r.id: self.by_kind.get("rule", {}).get(r.id) for r in rules.rules}
        self.shape = {"shape:" + k: row for k, row in self.by_kind.get("shape", {}).items()}
        self.words = self.by_kind.get("word", {})
        self.pairs = self.by_kind.get("pair", {})
        self.pair_first = {k.split(" ", 1)[0] for k in self.pairs}
        # every known character n-gram and symbol in one Aho-Corasick automaton: all their occurrences are found
        # in one pass in C (an n-gram of Chinese characters can only occur inside a run of them, as extract counts)
        import ahocorasick

        self.grams: Any = None
        known = {**self.by_kind.get("sym", {}), **self.by_kind.get("chars", {})} if config.char_ngrams else {}
        if known:
            auto = ahocorasick.Automaton()
            for g, row in known.items():
                auto.add_word(g, row)
            auto.make_automaton()
            self.grams = auto

    def read(self, text: str) -> tuple[list[int], dict[int, str]]:
        """(rows of the known features present, in no particular order; matched words of the rules among them)."""
        norm = segment.normalize(text)
        if not norm:
            return [], {}
        rows: set[int] = set()
        add = rows.add
        ws = segment.words(norm)
        matched: dict[int, str] = {}
        rule_rows = self.rule_rows
        for rule, m in self.rules.match(norm, ws):
            r = rule_rows.get(rule.id)
            if r is not None:
                add(r)
                matched[r] = m
        sget = self.shape.get
        for k in _shape(norm):
            r = sget(k)
            if r is not None:
                add(r)
        wget = self.words.get
        for w in ws:
            r = wget("#" if w.isdigit() else w)
            if r is not None:
                add(r)
        if self.config.word_pairs and self.pairs:
            pget = self.pairs.get
            first = self.pair_first
            for a, b in zip(ws, ws[1:]):
                if a in first:
                    r = pget(a + " " + b)
                    if r is not None:
                        add(r)
        if self.grams is not None:
            rows.update(map(_second, self.grams.iter(norm)))
        return list(rows), matched
