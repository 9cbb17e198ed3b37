"""What the learned model reads in a message: the hand-written rules that fire, jieba's words and word pairs,
character n-grams, and the shape of the text (its length, a leading 【, a question at the end, a phone number).

A feature is a string key (``rule:urgent.gas``, ``word:停水``, ``pair:自来水 停``, ``chars:停水``,
``shape:len<=5``) with the text it matched, kept for the evidence. Present or not: a feature counts once per
message however often it occurs (a resident who writes 快来人 three times is not three times as urgent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from classifiers import segment
from classifiers.handrules import RuleSet

#: the longest character n-gram the scorer reads (three code points of 21 bits fit in one 64-bit integer)
MAX_GRAM = 3
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
    needs, without building a key for every n-gram the model never saw (a property test checks it finds exactly
    the known keys of ``extract``). It reads a batch at a time: the character n-grams and symbols, most of a
    message's features, are looked up for the whole batch in a few array operations instead of one Python step
    per occurrence."""

    def __init__(self, keys: Iterable[str], rules: RuleSet, config: FeatureConfig) -> None:
        self.rules = rules
        self.config = config
        self.by_kind: dict[str, dict[str, int]] = {}
        keys = list(keys)
        for row, key in enumerate(keys):
            kind, _, name = key.partition(":")
            self.by_kind.setdefault(kind, {})[name] = row
        self.n_keys = len(keys)
        self.rule_rows = {r.id: self.by_kind.get("rule", {}).get(r.id) for r in rules.rules}
        self.shape = {"shape:" + k: row for k, row in self.by_kind.get("shape", {}).items()}
        self.words = self.by_kind.get("word", {})
        self.pairs = self.by_kind.get("pair", {})
        known = {**self.by_kind.get("sym", {}), **self.by_kind.get("chars", {})} if config.char_ngrams else {}
        if any(len(g) > MAX_GRAM for g in known):
            raise ValueError(f"character n-grams are read up to {MAX_GRAM} characters long")
        # one-character grams and symbols by code point; longer grams as sorted integer codes of their code points
        # (21 bits each: three fit in 63), found by binary search
        # (the table covers the Basic Multilingual Plane, 256 KB, small enough to stay in the processor's cache;
        # the few known characters above it, emoji, are searched like the longer grams)
        self.uni = np.full(0x10000, -1, dtype=np.int32)
        longer: dict[int, tuple[list[int], list[int]]] = {1: ([], []), 2: ([], []), 3: ([], [])}
        for g, row in known.items():
            if len(g) == 1 and ord(g) < 0xFFFF:
                self.uni[ord(g)] = row
            else:
                code = 0
                for ch in g:
                    code = (code << 21) | ord(ch)
                longer[len(g)][0].append(code)
                longer[len(g)][1].append(row)
        self.longer: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for n, (codes, rows) in longer.items():
            if codes:
                order = np.argsort(np.array(codes, dtype=np.uint64), kind="stable")
                self.longer[n] = (np.array(codes, dtype=np.uint64)[order], np.array(rows, dtype=np.int64)[order])
        self.has_grams = bool(known)

    def read(self, text: str) -> tuple[list[int], dict[int, str]]:
        """(rows of the known features present, in file order; matched words of the rules among them)."""
        rows, bounds, matched = self.read_many([text])
        return rows[bounds[0] : bounds[1]].tolist(), matched[0]

    def read_many(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[dict[int, str]]]:
        """The known features of each text: (rows, bounds, matched) — message i's rows are
        ``rows[bounds[i]:bounds[i + 1]]``, each once, in file order; ``matched[i]`` the words of its rules."""
        found: list[int] = []
        counts: list[int] = []
        norms: list[str] = []
        matched: list[dict[int, str]] = []
        rule_rows, sget, wget, pget = self.rule_rows.get, self.shape.get, self.words.__getitem__, self.pairs.__getitem__
        known_words, known_pairs, number = self.words.keys(), self.pairs.keys(), self.words.get("#")
        word_pairs = self.config.word_pairs and bool(self.pairs)
        for text in texts:
            norm = segment.normalize(text)
            norms.append(norm)
            m: dict[int, str] = {}
            matched.append(m)
            if not norm:
                counts.append(0)
                continue
            before = len(found)
            ws = segment.words(norm)
            for rule, hit in self.rules.match(norm, ws):
                r = rule_rows(rule.id)
                if r is not None:
                    found.append(r)
                    m[r] = hit
            found.extend(map(sget, _shape(norm), repeat(-1)))
            # the known words and pairs are found by set intersection (in C), then looked up; a number is the
            # word "#" (no number is a known word itself: training reads every number so)
            found.extend(map(wget, known_words & ws))
            if number is not None and any(map(str.isdigit, ws)):
                found.append(number)
            if word_pairs:
                found.extend(map(pget, known_pairs & set(map(" ".join, zip(ws, ws[1:])))))
            counts.append(len(found) - before)
        n_texts = len(norms)
        rows = np.array(found, dtype=np.int64) if found else np.zeros(0, np.int64)
        msg = np.repeat(np.arange(n_texts, dtype=np.int64), counts)
        if self.has_grams and any(norms):
            g_rows, g_msg = self._grams(norms)
            rows, msg = np.concatenate([rows, g_rows]), np.concatenate([msg, g_msg])
        keep = rows >= 0
        # one sorted key per (message, feature): duplicates go, each message's rows come out in file order
        key = msg[keep] * (self.n_keys + 1) + rows[keep]
        key.sort()
        if len(key) > 1:
            key = key[np.concatenate(([True], key[1:] != key[:-1]))]
        by_msg, rows = np.divmod(key, self.n_keys + 1)
        bounds = np.searchsorted(by_msg, np.arange(n_texts + 1))
        return rows, bounds, matched

    def _grams(self, norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the known character n-grams and symbols in every text, and the text each is in. The texts are
        read as one array of code points, separated by a character no gram contains (normalising removed control
        characters), so no gram spans two messages."""
        codes = np.frombuffer("\0".join(norms).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        msg = np.repeat(np.arange(len(norms), dtype=np.int64), [len(n) + 1 for n in norms])[: len(codes)]
        rows = [self.uni.take(np.minimum(codes, 0xFFFF))]  # U+FFFF is a noncharacter: no known gram
        msgs = [msg]
        for n, (known, known_rows) in self.longer.items():
            if len(codes) < n:
                continue
            if n == 1:
                at_ = np.flatnonzero(codes >= 0xFFFF)  # the characters the table does not cover
                gram, where = codes[at_], msg[at_]
            else:
                gram = codes[: len(codes) - n + 1].copy()
                for k in range(1, n):
                    gram = (gram << np.uint64(21)) | codes[k : len(codes) - n + 1 + k]
                where = msg[: len(gram)]
            at = np.searchsorted(known, gram)
            at[at == len(known)] = 0
            hit = known[at] == gram
            rows.append(known_rows[at[hit]])
            msgs.append(where[hit])
        return np.concatenate(rows), np.concatenate(msgs)
