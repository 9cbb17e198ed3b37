"""Rule-based message classifier: spaCy ``blank("zh")`` + jieba + rules kept in data files.

Text and loaded rules in, a :class:`~classifiers.types.Classification` with its evidence out.

Rules live in JSONL files (``classifiers/rules/*.jsonl``) in spaCy's EntityRuler pattern format
-- ``{"label": ..., "pattern": "phrase"}`` (run by a PhraseMatcher) or
``{"label": ..., "pattern": [{"ORTH": ...}, ...]}`` (run by a Matcher) -- with extra fields of ours:

- ``id``      a readable rule name, shown in the evidence
- ``target``  what the rule votes for: ``intent`` (label complaint/consultation/other), ``category``,
              ``urgent`` (label ``urgent``) or ``veto`` (takes ``weight`` off complaint *and* consultation)
- ``weight``  how much it adds (negative weights subtract)
- ``complaint`` optional, for category/urgent rules: a problem word is also evidence of a complaint
- ``note``    free text for reviewers

A line ``{"meta": {...}}`` carries file metadata (e.g. learned category priors); lines starting with
``#`` or ``//`` are comments. A ``*.txt`` file is a jieba user dictionary (``word [freq] [tag]``).

Scoring: each rule counts at most once per message. Intent scores go through a softmax with a fixed
bias for ``other`` (a message must earn its way to being a ticket); the confidence is the top label's
probability, calibrated on the dev set so that 0.75 (open a ticket) and 0.45 (ask the grid worker)
mean what the bot's config says.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from classifiers.types import DEFAULT_CATEGORIES, INTENTS, Classification, Evidence

log = logging.getLogger(__name__)

RULES_DIR = Path(__file__).parent / "rules"
#: Longer messages are cut to their first HEAD_CHARS and last TAIL_CHARS characters: the request
#: and the problem are almost always stated at the start or the end.
MAX_CHARS = 1200
HEAD_CHARS = 900
TAIL_CHARS = 300
#: Score of "other" before any rule fires: a message has to earn its way to being actionable.
OTHER_BIAS = 1.5
#: A message whose complaint and consultation keywords cannot add up to this score is "other"
#: without segmentation (the prefilter). Below it the confidence of complaint/consultation stays
#: under 0.30, far under any threshold the bot acts on.
SKIP_SCORE = 1.0
#: urgent score needed (with a complaint) for the urgent flag.
URGENT_MIN = 1.0
#: Taken off a complaint / consultation score when no rule naming a public matter fired (see score()).
NO_TOPIC_PENALTY = {"complaint": 1.0, "consultation": 1.5}
#: Share of the weaker of complaint/consultation moved to the stronger when both have evidence.
MIX_SHARE = 0.5
#: Added to the topic bonus when topic rules of two or more kinds fired (a place and an institution...).
TOPIC_STACK = 0.3
#: ... and without such a rule a complaint / consultation score is at most this (confidence < 0.45).
NO_TOPIC_CAP = 1.2
#: A complaint resting on one word alone (the only complaint evidence is one span, and no place, body or public
#: service is named: "你已经老年痴呆了", "鼻子太塌了") is at most this (None: off).
LONE_PROBLEM_CAP: float | None = 1.2

#: In a written report or question (a ``"written": true`` structure rule fired: it names a place or body and states
#: a matter, with no chat marker), the words that otherwise mark an ad, a notice or a cadre's update (出售, 扫码,
#: 公告, 到达) name the matter reported, not what the message does: their votes for "other" count this much.
WRITTEN_OTHER_FACTOR = 0.5

#: A category word of at least this many characters also counts inside a longer jieba word
#: (轨道交通 → 交通, 排污口 → 排污), at COMPOUND_FACTOR of its weights.
COMPOUND_MIN_CHARS = 2
COMPOUND_FACTOR = 0.75

#: Segment only this many characters either side of a keyword hit, within its Han/alnum run (None: the
#: whole run, exactly jieba's tokens for the whole text). jieba's choice of words is local: 8 characters of
#: context gave the same results on every evaluation set (dev, lccc, both Teddy Cup files) -- see docs.
FOCUS_WINDOW: int | None = 8

TARGETS = ("intent", "category", "urgent", "veto")
_TOKEN_KEYS = ("ORTH", "TEXT", "LOWER", "NORM")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_RUN_CHAR = r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]"
#: jieba's own block pattern (jieba.re_han_default): it segments each such run independently.
_RUN_RE = re.compile(_RUN_CHAR + "+")
#: The characters of such runs up to a position (search with endpos) / from it on (match): RuleSet._windows.
_RUN_LEFT_RE = re.compile(_RUN_CHAR + r"*\Z")
_RUN_RIGHT_RE = re.compile(_RUN_CHAR + "*")
_WS_RE = re.compile(r"[ \t\u3000]+")
#: Runs of Chinese characters: learned character rules (``"chars": true``) count their pattern inside these.
_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")


def _block_cutter() -> Any:
    """jieba's cutter of one Han/alnum block (precise mode, no HMM), or None if this jieba lacks it."""
    dt = _jieba().dt
    dt.check_initialized()
    return getattr(dt, "_Tokenizer__cut_DAG_NO_HMM", None)


_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


_NEG_INF = -math.inf
_LOGP_LOCK = threading.Lock()
_LOGP: tuple[tuple[int, int, int], dict[str, Any]] | None = None


def logprob_table(freq: dict[str, int], total: int) -> dict[str, Any]:
    """jieba's dictionary as log-probabilities: ``log(freq) - log(total)`` per word, ``-inf`` for the prefixes
    jieba stores with frequency 0 (exactly the float jieba computes for each word before adding the rest of the
    route; a prefix is no word, and ``-inf`` never wins a route: see _cut_logp). Built once and rebuilt only when
    jieba's dictionary changes (a word added): no message result is kept."""
    global _LOGP
    key = (id(freq), len(freq), total)
    cur = _LOGP
    if cur is not None and cur[0] == key:
        return cur[1]
    with _LOGP_LOCK:
        logtotal = math.log(total)
        log = math.log
        # one float object per frequency, shared by the words that have it (the same values; a smaller, denser
        # table for the cache: a dictionary has ~350,000 words but a few thousand distinct frequencies)
        class ByFreq(dict):
            def __missing__(self, f: int) -> float:
                v = self[f] = log(f) - logtotal
                return v

        by_freq = ByFreq({0: _NEG_INF})
        table = {w: by_freq[f] for w, f in freq.items()}
        _LOGP = (key, table)
    return table


def cut_block_no_hmm(sentence: str, freq: dict[str, int], logtotal: float,
                     logp: dict[str, Any] | None = None) -> list[str]:
    """jieba's precise-mode cut of one Han/alnum block without HMM (``Tokenizer.__cut_DAG_NO_HMM``):
    the same dictionary, the same DAG, the same maximum-probability route with the same tie-breaking
    (larger end wins) and the same float arithmetic, so the same words -- computed in one right-to-left
    pass without building the DAG dict and the generator of tuples (a test checks equality with jieba).
    ``logp``: ``logprob_table(freq, total)``, the same numbers without a logarithm per candidate word."""
    n = len(sentence)
    score = [0.0] * (n + 1)
    end = [0] * (n + 1)
    if logp is not None:
        return _cut_logp(sentence, logp.get, 0.0 - logtotal)
    log = math.log
    get = freq.get
    for idx in range(n - 1, -1, -1):
        best = -math.inf
        best_x = -1
        i = idx
        f = get(sentence[idx])
        while f is not None:  # frag in freq
            if f:
                v = log(f) - logtotal + score[i + 1]
                if v >= best:  # max((v, x)) over ascending x: ties go to the larger x
                    best, best_x = v, i
            i += 1
            if i >= n:
                break
            f = get(sentence[idx:i + 1])
        if best_x < 0:
            best = log(freq.get(sentence[idx]) or 1) - logtotal + score[idx + 1]
            best_x = idx
        score[idx] = best
        end[idx] = best_x + 1
    return _route_words(sentence, end, n)


def _cut_logp(sentence: str, get: Any, fallback: float) -> list[str]:
    """cut_block_no_hmm with the log-probability table (``get``: ``logprob_table(...).get``; ``fallback``:
    ``0.0 - log(total)``, the log-probability jieba gives a character that is no word), route and words in one
    function. A prefix that is no word has ``-inf``: it can only be the best while nothing else was seen, and a
    best of ``-inf`` at the end means no word starts there (jieba's fallback: the single character)."""
    n = len(sentence)
    score = [0.0] * (n + 1)
    end = [0] * n
    neg_inf = _NEG_INF
    for idx in range(n - 1, -1, -1):
        best = neg_inf
        best_y = idx + 1  # the end (exclusive) of the best word starting at idx
        y = best_y
        p = get(sentence[idx])
        while p is not None:  # frag in freq
            v = p + score[y]
            if v >= best:  # max((v, x)) over ascending x: ties go to the larger x
                best = v
                best_y = y
            if y == n:
                break
            y += 1
            p = get(sentence[idx:y])
        if best == neg_inf:  # log(freq.get(ch) or 1) - logtotal: a character that is no word has frequency 1
            best = fallback + score[idx + 1]
            best_y = idx + 1
        score[idx] = best
        end[idx] = best_y
    return _route_words(sentence, end, n)


def _route_words(sentence: str, end: list[int], n: int) -> list[str]:
    """The words of a route (``end[x]``: the end, exclusive, of the word starting at x), ASCII letters and
    digits that are no dictionary word joined as jieba joins them."""
    out: list[str] = []
    x = 0
    buf = ""
    alnum = _ASCII_ALNUM
    while x < n:
        y = end[x]
        if y == x + 1 and sentence[x] in alnum:
            buf += sentence[x]
        else:
            if buf:
                out.append(buf)
                buf = ""
            out.append(sentence[x:y])
        x = y
    if buf:
        out.append(buf)
    return out


class RuleError(ValueError):
    """A rule file is malformed (names the file and line)."""


@dataclass(frozen=True)
class Rule:
    id: str
    target: str
    label: str
    weight: float
    pattern: str | tuple  # str: phrase; tuple of token dicts (frozen as json) for Matcher
    complaint: float = 0.0
    idf: float = 0.0  # learned rules: weight applies to the feature's tf-idf value
    topic: bool = False  # the words name a public matter (category rules always do)
    regex: str = ""  # a character-level rule: a regular expression over the normalised text
    literals: tuple[str, ...] = ()  # regex rules: strings one of which must occur (for the prefilter)
    public: bool = False  # votes like any rule *and* names a public matter (unlike a topic rule)
    unless: str = ""  # regex rules: a regular expression that, found anywhere in the text, stops the rule
    written: bool = False  # the text is a written report/question (structure rules): see WRITTEN_OTHER_FACTOR
    chars: bool = False  # learned rules: the pattern is a run of characters counted anywhere in the text (路灯)
    note: str = ""
    source: str = ""

    @property
    def token_pattern(self) -> list[dict[str, Any]] | None:
        if self.regex:
            return None
        return None if isinstance(self.pattern, str) else json.loads(self.pattern[0])

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "target": self.target, "label": self.label, "weight": self.weight}
        if self.regex:
            d["regex"] = self.regex
            d["literals"] = list(self.literals)
            if self.unless:
                d["unless"] = self.unless
        if self.written:
            d["written"] = True
        if self.chars:
            d["chars"] = True
        else:
            d["pattern"] = self.pattern if isinstance(self.pattern, str) else self.token_pattern
        if self.complaint:
            d["complaint"] = self.complaint
        if self.topic and self.target != "category":
            d["topic"] = True
        if self.public:
            d["public"] = True
        if self.note:
            d["note"] = self.note
        return d


class JiebaTokenizer:
    """spaCy tokenizer running jieba's precise mode with HMM new-word discovery off.

    The user dictionary (ours plus every phrase of the rules) supplies the words rules need; HMM
    guessing of unknown words adds cost and makes keyword segmentation less predictable. Whitespace
    runs stay tokens of their own: in chat they work as punctuation.
    """

    def __init__(self, vocab: Any) -> None:
        import jieba

        self.vocab = vocab
        self._cut = jieba.dt.lcut

    def words(self, text: str) -> list[str]:
        return self._cut(text, HMM=False)

    def __call__(self, text: str) -> Any:
        from spacy.tokens import Doc

        words = self._cut(text, HMM=False) if text else []
        return Doc(self.vocab, words=words, spaces=[False] * len(words))

    # spaCy calls these when (de)serialising a pipeline; nothing to store.
    def to_bytes(self, **_: Any) -> bytes:
        return b""

    def from_bytes(self, _data: bytes, **_: Any) -> JiebaTokenizer:
        return self


_JIEBA_LOCK = threading.RLock()
_JIEBA_READY = False
_USERDICTS_LOADED: set[str] = set()


def _jieba() -> Any:
    global _JIEBA_READY
    import jieba

    with _JIEBA_LOCK:
        if not _JIEBA_READY:
            jieba.setLogLevel(logging.WARNING)
            os.makedirs(jieba.dt.tmp_dir or __import__("tempfile").gettempdir(), exist_ok=True)
            jieba.initialize()
            _JIEBA_READY = True
    return jieba


def load_userdict(path: Path) -> None:
    """Load a jieba user dictionary once per process."""
    key = str(Path(path).resolve())
    jieba = _jieba()
    with _JIEBA_LOCK:
        if key in _USERDICTS_LOADED:
            return
        for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            word = parts[0]
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            tag = parts[2] if len(parts) > 2 else None
            jieba.add_word(word, freq, tag)
        _USERDICTS_LOADED.add(key)


def _make_nlp() -> Any:
    import spacy

    _jieba()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.tokenizer = JiebaTokenizer(nlp.vocab)
    return nlp


def normalize(text: str) -> str:
    """What the rules see: NFKC (full-width → half-width), lower-case, no control characters,
    whitespace runs collapsed, very long text cut to its head and tail."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) > 4 * MAX_CHARS:  # cheap pre-cut before normalising huge inputs
        text = text[: 2 * HEAD_CHARS] + "\n" + text[-2 * TAIL_CHARS :]
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CTRL_RE.sub(" ", text.replace("\r\n", "\n"))
    text = _WS_RE.sub(" ", text).strip()
    if len(text) > MAX_CHARS:
        text = text[:HEAD_CHARS] + "。" + text[-TAIL_CHARS:]
    return text


def _literals_of_token(tok: dict[str, Any]) -> list[str] | None:
    for key in _TOKEN_KEYS:
        if key in tok:
            v = tok[key]
            if isinstance(v, str):
                return [v.lower()]
            if isinstance(v, dict) and "IN" in v and isinstance(v["IN"], list):
                return [str(x).lower() for x in v["IN"]]
            return None
    return None


def _single_token_literals(pattern: list[dict[str, Any]]) -> list[str] | None:
    """Literals of a pattern that is exactly one token matched by ORTH/TEXT (string or IN list)."""
    if len(pattern) != 1:
        return None
    tok = pattern[0]
    if set(tok) - {"ORTH", "TEXT"} or len(tok) != 1:
        return None
    v = next(iter(tok.values()))
    if isinstance(v, str):
        return [v.lower()]
    if isinstance(v, dict) and set(v) == {"IN"} and isinstance(v["IN"], list):
        return [str(x).lower() for x in v["IN"]]
    return None


def _plain_sequence(pattern: list[dict[str, Any]]) -> list[str] | None:
    """The words of a pattern that is a fixed sequence of exact ORTH/TEXT strings (no operators)."""
    out = []
    for tok in pattern:
        if len(tok) != 1 or next(iter(tok)) not in ("ORTH", "TEXT"):
            return None
        v = next(iter(tok.values()))
        if not isinstance(v, str):
            return None
        out.append(v)
    return out


def _required_literals(rule: Rule) -> list[str] | None:
    """Strings one of which must occur in any text the rule matches (None: cannot tell)."""
    if rule.regex:
        return [x.lower() for x in rule.literals] or None
    if isinstance(rule.pattern, str):
        return [rule.pattern.lower()]
    best: list[str] | None = None
    for tok in rule.token_pattern or []:
        if tok.get("OP") in ("?", "*", "!", "{0,}"):
            continue
        lits = _literals_of_token(tok)
        if lits and (best is None or min(map(len, lits)) > min(map(len, best))):
            best = lits
    return best


class _CharRule:
    """A compiled character-level rule: its regex, unless the ``unless`` regex occurs anywhere in the text."""

    __slots__ = ("regex", "unless")

    def __init__(self, regex: re.Pattern[str], unless: re.Pattern[str] | None) -> None:
        self.regex, self.unless = regex, unless

    def search(self, text: str) -> re.Match[str] | None:
        m = self.regex.search(text)
        if m is not None and self.unless is not None and self.unless.search(text):
            return None
        return m


@dataclass
class RuleSet:
    """Loaded rules: the spaCy pipeline, its matchers, and what the scorer needs."""

    rules: tuple[Rule, ...]
    categories: tuple[str, ...]
    category_bias: dict[str, float] = field(default_factory=dict)
    intent_bias: dict[str, float] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    nlp: Any = None
    matcher: Any = None
    phrase_matcher: Any = None
    _by_key: dict[int, Rule] = field(default_factory=dict)
    _index_of_key: dict[int, int] = field(default_factory=dict)
    _regexes: dict[int, Any] = field(default_factory=dict)  # rule index -> compiled _CharRule
    _compound: dict[str, tuple[int, ...]] = field(default_factory=dict)  # literal -> category rules (see scan)
    _regex_lits: dict[str, list[int]] = field(default_factory=dict)
    _word_rules: dict[str, list[int]] = field(default_factory=dict)  # exact one-word patterns
    _gram_rules: dict[str, list[int]] = field(default_factory=dict)  # character rules ("chars": true)
    _gram_sizes: tuple[int, ...] = ()
    _seq_rules: dict[str, list[tuple[tuple[str, ...], tuple[int, ...]]]] = field(default_factory=dict)
    #: word -> (its one-word rules, the word sequences starting with it): match_words' one look-up per word
    _word_index: dict[str, tuple[tuple[int, ...], tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]]] = field(
        default_factory=dict)
    _automaton: Any = None
    _unfilterable: bool = False
    _cutter: bool | None = None  # jieba has the block cutter cut_block_no_hmm re-implements (checked once)
    _whole_text: bool = False
    _lock: Any = field(default_factory=threading.Lock)

    def __hash__(self) -> int:
        return id(self)

    def __len__(self) -> int:
        return len(self.rules)

    def compile(self) -> RuleSet:
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = nlp = _make_nlp()
        jieba = _jieba()
        self.matcher = Matcher(nlp.vocab, validate=True)
        self.phrase_matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        phrases: dict[str, list[int]] = {}
        seqs: dict[tuple[str, ...], list[int]] = {}
        words: set[str] = set()
        for idx, rule in enumerate(self.rules):
            key = nlp.vocab.strings.add(f"rule#{idx}")
            self._by_key[key] = rule
            self._index_of_key[key] = idx
            if rule.regex:
                try:
                    self._regexes[idx] = _CharRule(re.compile(rule.regex),
                                                   re.compile(rule.unless) if rule.unless else None)
                except re.error as exc:
                    raise RuleError(f"{rule.source}: rule {rule.id}: bad regex: {exc}") from exc
                continue
            if rule.chars:  # counted on the characters (gram_hits): no jieba word, no phrase pattern
                self._gram_rules.setdefault(rule.pattern.lower(), []).append(idx)
                continue
            if rule.target == "category" and not rule.idf:
                # words of a problem hidden inside a longer jieba word (轨道交通, 排污口): see char_hits
                for lit in _required_literals(rule) or []:
                    if len(lit) >= COMPOUND_MIN_CHARS:
                        self._compound[lit] = (*self._compound.get(lit, ()), idx)
            if isinstance(rule.pattern, str):
                phrases.setdefault(rule.pattern.lower(), []).append(idx)
                words.add(rule.pattern.lower())
            else:
                pat = rule.token_pattern or []
                for tok in pat:
                    words.update(_literals_of_token(tok) or [])
                seq = _plain_sequence(pat)
                if seq is not None and len(seq) > 1:
                    # a fixed word sequence (learned word pairs): same result as the Matcher, much faster
                    seqs.setdefault(tuple(seq), []).append(idx)
                    continue
                single = _single_token_literals(pat)
                if single is not None:
                    # one token, exact words: same result as the Matcher, much faster as phrases
                    for lit in single:
                        phrases.setdefault(lit, []).append(idx)
                    continue
                try:
                    self.matcher.add(f"rule#{idx}", [rule.token_pattern])
                except Exception as exc:  # noqa: BLE001 - report which rule is broken
                    raise RuleError(f"{rule.source}: rule {rule.id}: bad token pattern: {exc}") from exc
        self._gram_sizes = tuple(sorted({len(g) for g in self._gram_rules}))
        # a keyword jieba would split is never a whole token: make it a word (PLATFORMS.md)
        with _JIEBA_LOCK:
            for w in sorted(words):
                if len(w) > 1 and not jieba.dt.FREQ.get(w) and not w.isspace():
                    jieba.add_word(w)
        for phrase, idxs in phrases.items():
            doc = nlp.make_doc(phrase)
            for idx in idxs:
                self.phrase_matcher.add(f"rule#{idx}", [doc])
            words_of = tuple(t.text for t in doc)
            if len(words_of) == 1:
                self._word_rules.setdefault(words_of[0], []).extend(idxs)
            elif words_of:
                seqs.setdefault(words_of, []).extend(idxs)
        from spacy.tokens import Doc

        for words_seq, idxs in seqs.items():
            doc = Doc(nlp.vocab, words=list(words_seq), spaces=[False] * len(words_seq))
            for idx in idxs:
                self.phrase_matcher.add(f"rule#{idx}", [doc])
            self._seq_rules.setdefault(words_seq[0], []).append((words_seq, tuple(idxs)))
        self._word_index = {w: (tuple(self._word_rules.get(w, ())), tuple(self._seq_rules.get(w, ())))
                            for w in (*self._word_rules, *self._seq_rules)}
        self._build_prefilter()
        return self

    def _positive(self, rule: Rule) -> float:
        """Largest amount the rule can add to complaint or consultation (topic rules: see scan)."""
        if rule.target == "intent" and rule.label in ("complaint", "consultation"):
            return max(rule.weight, 0.0)
        return max(rule.complaint, 0.0)

    def _build_prefilter(self) -> None:
        """One Aho-Corasick automaton over every literal of every rule.

        It gives (1) an upper bound of the complaint/consultation score (messages that cannot reach
        SKIP_SCORE are never segmented) and (2) where rules can match: only the Han/alnum runs that
        contain a literal are segmented. jieba segments each such run on its own (it splits the text at
        every other character first), so the tokens there are exactly those of the whole text.
        """
        import ahocorasick

        auto = ahocorasick.Automaton()
        self._unfilterable = bool(self.category_bias)  # a learned taxonomy always gives a hint
        self._whole_text = False
        entries: dict[str, list[tuple[int, float]]] = {}
        for idx, rule in enumerate(self.rules):
            pos = self._positive(rule)
            lits = _required_literals(rule)
            if not lits:
                self._whole_text = True
                if pos > 0:
                    self._unfilterable = True
                continue
            for lit in lits:
                entries.setdefault(lit, []).append((idx, pos))
        self._regex_lits = {}
        for idx in self._regexes:
            for lit in _required_literals(self.rules[idx]) or []:
                self._regex_lits.setdefault(lit, []).append(idx)
        for lit, vals in entries.items():
            # token: some token rule needs the literal (its words must be segmented); a literal only regex
            # rules need is read on the characters (char_hits) and needs no segmentation around it
            token = any(idx not in self._regexes and not self.rules[idx].chars for idx, _pos in vals)
            # what a hit of the literal adds to scan()'s bound, worked out once here: the rules whose vote
            # counts (idx, pos), the largest topic weight, and the regex rules that may match (idx, pos)
            seen_items: list[tuple[int, float]] = []
            pending_items: list[tuple[int, float]] = []
            topic = 0.0
            for idx, pos in vals:
                if not pos:
                    continue
                if idx in self._regexes:
                    pending_items.append((idx, pos))
                    continue
                r = self.rules[idx]
                if r.topic and r.target == "intent" and not r.idf:
                    topic = max(topic, pos)
                else:
                    seen_items.append((idx, pos))
            # as dicts: scan() merges them into its own with dict.update (the same order as item by item)
            auto.add_word(lit, (len(lit), token, dict(seen_items), topic, dict(pending_items)))
        if entries:
            auto.make_automaton()
            self._automaton = auto
        else:
            self._automaton = None

    def scan(self, text: str) -> tuple[float, list[tuple[int, int]], list[tuple[int, int]]]:
        """(upper bound of the actionable score, spans of literal hits, spans of token-rule literal hits).

        A regex rule's literal only says the regex *may* match: when the other rules cannot reach
        SKIP_SCORE, the few regexes whose literals occur are run to see whether they do (K6县 is a named
        place, 县 alone is not)."""
        if self._automaton is None:
            return (math.inf if self._unfilterable else 0.0), [], []
        seen: dict[int, float] = {}
        topic = 0.0  # topic intent rules add their largest weight once (see score)
        spans: list[tuple[int, int]] = []
        token_spans: list[tuple[int, int]] = []
        pending: dict[int, float] = {}  # regex rules whose literals occur
        rules = self.rules
        regexes = self._regexes
        for end, (n, token, seen_items, lit_topic, pending_items) in self._automaton.iter(text):
            span = (end + 1 - n, end + 1)
            spans.append(span)
            if token:
                token_spans.append(span)
            if seen_items:
                seen.update(seen_items)
            if lit_topic > topic:
                topic = lit_topic
            if pending_items:
                pending.update(pending_items)
        if self._unfilterable:
            return math.inf, spans, token_spans
        bound = sum(seen.values()) + topic
        if pending and bound < SKIP_SCORE:
            rx_topic = topic
            extra = 0.0
            for idx, pos in pending.items():
                r = rules[idx]
                is_topic = r.topic and r.target == "intent"
                if is_topic and pos <= rx_topic:
                    continue
                if regexes[idx].search(text):
                    if is_topic:
                        rx_topic = pos
                    else:
                        extra += pos
            bound += extra + (rx_topic - topic)
        return bound, spans, token_spans

    def can_be_actionable(self, text: str) -> bool:
        """Prefilter: can the positive rules whose words occur in ``text`` reach SKIP_SCORE?"""
        return self.scan(text)[0] >= SKIP_SCORE

    def focus(self, text: str, spans: list[tuple[int, int]]) -> str:
        """The parts of ``text`` rules can match: each hit widened to its whole Han/alnum run(s)."""
        if self._whole_text or not spans:
            return text if self._whole_text else ""
        return " ".join(text[s:e] for s, e in self._windows(text, spans))

    @staticmethod
    def _windows(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """focus()'s parts as (start, end), in text order, disjoint and not touching."""
        # overlapping or touching hits are one stretch of text: its window is the union of theirs
        joined: list[list[int]] = []
        for s, e in sorted(spans):
            if joined and s <= joined[-1][1]:
                if e > joined[-1][1]:
                    joined[-1][1] = e
            else:
                joined.append([s, e])
        # a stretch starting (ending) inside a Han/alnum run widens to FOCUS_WINDOW characters of that run before
        # (after) it, or to the whole run: the run characters up to and including its first (from its last)
        # character, read by anchored regexes (an empty match: that character is no run character, no widening).
        # The widened starts stay in text order (a run holding a later stretch's start cannot reach back over an
        # earlier stretch), so overlapping or touching windows are merged as they come.
        win = FOCUS_WINDOW
        left, right = _RUN_LEFT_RE.search, _RUN_RIGHT_RE.match
        n = len(text)
        merged: list[list[int]] = []
        for s, e in joined:
            ws = left(text, 0 if win is None else (s - win if s > win else 0), s + 1).start()
            if ws < s:
                s = ws
            we = right(text, e - 1, n if win is None else e + win).end()
            if we > e:
                e = we
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1][1] = e
            else:
                merged.append([s, e])
        return [(s, e) for s, e in merged]

    def focus_words(self, text: str, spans: list[tuple[int, int]]) -> list[str]:
        """jieba's words (precise mode, no HMM) of ``focus(text, spans)``.

        Each focus part is cut as jieba cuts it (its Han/alnum blocks by jieba's block cutter, directly: what
        ``jieba.lcut`` does for such a block, without splitting the text again), with the " " that joins the
        parts in ``focus()`` as a word of its own between them (jieba makes each whitespace character a word)."""
        if self._whole_text or not spans:
            part = self.focus(text, spans)
            return self.nlp.tokenizer.words(part) if part else []
        if self._cutter is None:
            self._cutter = _block_cutter() is not None
        if not self._cutter:
            return self.nlp.tokenizer.words(self.focus(text, spans))
        import jieba

        han, skip = jieba.re_han_default, jieba.re_skip_default
        dt = jieba.dt
        get = logprob_table(dt.FREQ, dt.total).get
        fallback = 0.0 - math.log(dt.total)
        out: list[str] = []
        first = True
        whole_run = _RUN_RE.fullmatch
        for s, e in self._windows(text, spans):
            if first:
                first = False
            else:
                out.append(" ")
            if whole_run(text, s, e):  # the part is one block (the usual case): jieba cuts it as it is
                out.extend(_cut_logp(text[s:e], get, fallback))
                continue
            for blk in han.split(text[s:e]):  # jieba.Tokenizer.cut's own loop (precise mode, HMM off)
                if not blk:
                    continue
                if han.match(blk):
                    out.extend(_cut_logp(blk, get, fallback))
                else:
                    for x in skip.split(blk):
                        if skip.match(x):
                            out.append(x)
                        elif x:
                            out.extend(x)
        return out

    def char_hits(self, text: str, spans: list[tuple[int, int]], matches: list[tuple[Rule, int, int, int]],
                  words: Sequence[str] = ()) -> list[tuple[Rule, str, float]]:
        """Rules matched on characters rather than tokens: (rule, matched text, factor).

        - regex rules (``"regex"`` field) whose literals occur: named places (K6县, 滨江公园), a public
          thing with an evaluative adjective (工资低, 价格怎么这么贵);
        - category words jieba merged into a longer word (轨道交通 holds 交通), at COMPOUND_FACTOR.
        """
        if not spans:
            return []
        out: list[tuple[Rule, str, float]] = []
        seen: set[int] = set()
        lits = dict.fromkeys(text[s:e] for s, e in spans)  # in text order: the result must not depend on string hashing
        rules = self.rules
        if self._regexes:
            lit_rules = self._regex_lits
            regexes = self._regexes
            for lit in lits:
                idxs = lit_rules.get(lit)
                if idxs is None:
                    continue
                for idx in idxs:
                    if idx in seen:
                        continue
                    seen.add(idx)
                    m = regexes[idx].search(text)
                    if m:
                        out.append((rules[idx], m.group(0), 1.0))
        compound = self._compound
        fired: set[int] | None = None
        matched_words: set[str] = set()
        for lit in lits:
            idxs = compound.get(lit)
            if idxs is None:
                continue
            if fired is None:  # worked out for the first compound literal only
                fired = {id(m[0]) for m in matches}
                matched_words = {"".join(words[s:e]) for r, s, e, _c in matches if r.target in ("category", "urgent")}
            for idx in idxs:
                rule = rules[idx]
                if idx in seen or id(rule) in fired or any(lit in w for w in matched_words):
                    continue  # a word a token rule already read (着火 in 着火了) is not hidden
                seen.add(idx)
                out.append((rule, lit, COMPOUND_FACTOR))
        return out

    def gram_hits(self, text: str) -> list[tuple[Rule, str, int]]:
        """Learned character rules (``"chars": true``): (rule, characters, occurrences), overlapping occurrences
        counted inside each run of Chinese characters -- the character n-gram features the rules were learned on."""
        if not self._gram_rules:
            return []
        grams = self._gram_rules
        counts: dict[str, int] = {}
        for run in _HAN_RUN_RE.findall(text):
            for k in self._gram_sizes:
                for i in range(len(run) - k + 1):
                    g = run[i:i + k]
                    if g in grams:
                        counts[g] = counts.get(g, 0) + 1
        rules = self.rules
        return [(rules[idx], g, n) for g, n in counts.items() for idx in grams[g]]

    def match_words(self, words: list[str]) -> list[tuple[Rule, int, int, int]]:
        """The PhraseMatcher's result for exact-word patterns (every hand-written rule, learned word pairs),
        computed by dictionary look-ups on the jieba words: no spaCy Doc needs building. Token patterns
        the Matcher must run (operators, other attributes) still go through spaCy."""
        found: dict[int, list[int]] = {}
        get = self._word_index.get
        n = len(words)
        i = -1
        for w in words:
            i += 1
            entry = get(w)
            if entry is None:
                continue
            idxs, seqs = entry
            for idx in idxs:
                prev = found.get(idx)
                if prev is None:
                    found[idx] = [i, i + 1, 1]
                else:
                    prev[2] += 1
            for seq, sidxs in seqs:
                k = len(seq)
                if i + k <= n and tuple(words[i:i + k]) == seq:
                    for idx in sidxs:
                        prev = found.get(idx)
                        if prev is None:
                            found[idx] = [i, i + k, 1]
                        else:
                            prev[2] += 1
        if len(self.matcher):
            from spacy.tokens import Doc

            doc = Doc(self.nlp.vocab, words=words, spaces=[False] * n)
            with self._lock:
                for key, start, end in self.matcher(doc):
                    idx = self._index_of_key[key]
                    prev = found.get(idx)
                    if prev is None:
                        found[idx] = [start, end, 1]
                    else:
                        prev[2] += 1
                        if start < prev[0]:
                            prev[0], prev[1] = start, end
        rules = self.rules
        out = [(rules[idx], s, e, c) for idx, (s, e, c) in found.items()]
        out.sort(key=lambda t: (t[1], t[2]))
        return out

    def match(self, doc: Any) -> list[tuple[Rule, int, int, int]]:
        found: dict[int, list[int]] = {}
        with self._lock:  # spaCy matchers are not documented as thread-safe
            hits = list(self.phrase_matcher(doc))
            if len(self.matcher):
                hits += self.matcher(doc)
        for key, start, end in hits:
            prev = found.get(key)
            if prev is None:
                found[key] = [start, end, key, 1]
            else:
                prev[3] += 1
                if start < prev[0]:
                    prev[0], prev[1] = start, end
        out = [(self._by_key[k], s, e, c) for s, e, k, c in found.values()]
        out.sort(key=lambda t: (t[1], t[2]))
        return out


def _freeze_pattern(p: Any, where: str) -> str | tuple:
    if isinstance(p, str):
        if not p.strip():
            raise RuleError(f"{where}: empty phrase pattern")
        return p
    if isinstance(p, list) and p and all(isinstance(t, dict) for t in p):
        return (json.dumps(p, ensure_ascii=False, sort_keys=True),)
    raise RuleError(f"{where}: pattern must be a phrase string or a list of token dicts")


def read_rule_file(path: Path) -> tuple[list[Rule], dict[str, Any]]:
    """Parse one JSONL rule file; returns its rules and its merged meta."""
    rules: list[Rule] = []
    meta: dict[str, Any] = {}
    seen_ids: set[str] = set()
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            raise RuleError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise RuleError(f"{where}: each line must be a JSON object")
        if "meta" in obj:
            meta.update(obj["meta"])
            continue
        target = obj.get("target", "intent")
        if target not in TARGETS:
            raise RuleError(f"{where}: target must be one of {TARGETS}")
        label = str(obj.get("label", "urgent" if target == "urgent" else ""))
        if target == "intent" and label not in INTENTS:
            raise RuleError(f"{where}: intent label must be one of {INTENTS}")
        if not label:
            raise RuleError(f"{where}: missing label")
        regex = str(obj.get("regex") or "")
        if regex:
            lits = obj.get("literals") or []
            if not isinstance(lits, list) or not all(isinstance(x, str) and x for x in lits):
                raise RuleError(f"{where}: literals must be a list of non-empty strings")
            obj = {**obj, "pattern": regex}
        elif obj.get("unless"):
            raise RuleError(f"{where}: unless is only for regex rules")
        chars = bool(obj.get("chars", False))
        if chars and (regex or not isinstance(obj.get("pattern"), str) or not _HAN_RUN_RE.fullmatch(obj["pattern"])):
            raise RuleError(f"{where}: a chars rule's pattern must be a string of Chinese characters")
        rid = str(obj.get("id") or f"{Path(path).stem}:{lineno}")
        if rid in seen_ids:
            rid = f"{rid}@{lineno}"
        seen_ids.add(rid)
        rules.append(
            Rule(
                id=rid,
                target=target,
                label=label,
                weight=float(obj.get("weight", 1.0)),
                pattern=_freeze_pattern(obj.get("pattern"), where),
                complaint=float(obj.get("complaint", 0.0)),
                idf=float(obj.get("idf", 0.0)),
                topic=bool(obj.get("topic", False)) or target == "category",
                regex=regex,
                public=bool(obj.get("public", False)),
                unless=str(obj.get("unless") or ""),
                written=bool(obj.get("written", False)),
                chars=chars,
                literals=tuple(str(x) for x in (obj.get("literals") or [])) if regex else (),
                note=str(obj.get("note", "")),
                source=str(path),
            )
        )
    return rules, meta


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(p.glob("*.txt")) + sorted(p.glob("*.jsonl")))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"rule file not found: {p}")
    return out


def build_ruleset(files: Sequence[Path]) -> RuleSet:
    rules: list[Rule] = []
    categories: list[str] = []
    bias: dict[str, float] = {}
    ibias: dict[str, float] = {}
    replace_defaults = False
    default_files = set(_expand([RULES_DIR]))
    for f in files:
        if f.suffix == ".txt":
            load_userdict(f)
            continue
        file_rules, meta = read_rule_file(f)
        if meta.get("replace_default_categories") and f not in default_files:
            replace_defaults = True
        for c in meta.get("categories", []):
            if c not in categories:
                categories.append(c)
        for c, b in (meta.get("category_bias") or {}).items():
            bias[c] = float(b)
        for k, b in (meta.get("intent_bias") or {}).items():
            if k in INTENTS:
                ibias[k] = ibias.get(k, 0.0) + float(b)
        rules.extend(file_rules)
    if replace_defaults:
        rules = [r for r in rules if not (r.target == "category" and r.source in map(str, default_files))]
        categories = [c for c in categories if c in bias or any(r.label == c for r in rules if r.target == "category")]
    for r in rules:
        if r.target == "category" and r.label not in categories:
            categories.append(r.label)
    if not categories:
        categories = list(DEFAULT_CATEGORIES)
    return RuleSet(rules=tuple(rules), categories=tuple(categories), category_bias=bias, intent_bias=ibias,
                   sources=tuple(map(str, files))).compile()


@lru_cache(maxsize=16)
def _load_cached(paths: tuple[str, ...], include_default: bool) -> RuleSet:
    files: list[Path] = []
    if include_default:
        files.extend(_expand([RULES_DIR]))
    files.extend(_expand(paths))
    rs = build_ruleset(files)
    log.info("loaded %d rules (%d categories) from %s", len(rs.rules), len(rs.categories), ", ".join(map(str, files)))
    return rs


def load_rules(paths: Sequence[Path | str] | None = None, *, include_default: bool = True) -> RuleSet:
    """Load the hand-written rules (``classifiers/rules/``) and/or extra rule files; cached.

    ``paths`` may name JSONL rule files, jieba user dictionaries (``.txt``) or directories of both.
    """
    key = tuple(str(Path(p).resolve()) for p in (paths or ()))
    return _load_cached(key, include_default)


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    m = max(scores.values())
    ex = {k: math.exp(v - m) for k, v in scores.items()}
    z = sum(ex.values())
    return {k: v / z for k, v in ex.items()}


_NOTHING = {"complaint": 0.0, "consultation": 0.0, "other": OTHER_BIAS}


#: the confidence of "other" when no rule fired: the softmax of _NOTHING (constants, no message)
_UNMATCHED_CONFIDENCE = round(_softmax(_NOTHING)["other"], 4)


def _unmatched() -> Classification:
    return Classification(intent="other", confidence=_UNMATCHED_CONFIDENCE, category=None, urgent=False,
                          scores=dict(_NOTHING), evidence=())


def classify(text: str, rules: RuleSet) -> Classification:
    """Classify one message. Pure (same text and rules → same result) and never raises."""
    try:
        return _classify(text, rules)
    except Exception:  # noqa: BLE001 - a chat bot must never crash on a message
        log.exception("classifier failed on a message of %d chars", len(text) if isinstance(text, str) else -1)
        return _unmatched()


def _classify(text: str, rules: RuleSet) -> Classification:
    norm = normalize(text)
    if not norm:
        return _unmatched()
    bound, spans, token_spans = rules.scan(norm)
    if bound < SKIP_SCORE:
        return _unmatched()
    words = rules.focus_words(norm, token_spans)
    matches = rules.match_words(words)
    return score(matches, words, rules, rules.char_hits(norm, spans, matches, words), rules.gram_hits(norm))


def score(matches: list[tuple[Rule, int, int, int]], words: Sequence[str], rules: RuleSet,
          extra: Sequence[tuple[Rule, str, float]] = (),
          grams: Sequence[tuple[Rule, str, int]] = ()) -> Classification:
    """Add up the evidence. ``matches``: (rule, start, end, occurrences) per rule that fired.

    Three general principles on top of the per-rule weights:

    - the same words count once per intent: when several rules vote for the same intent on the same
      words (``塌了`` is a road word, a broken-thing word and a collapse word), the largest vote counts;
      the topic rules (place, institution, public service) count once, by their largest weight, for
      whichever of complaint/consultation already leads: a public matter strengthens what the message
      says about it, and alone it is nothing;
    - a question or a complaint about no public matter at all (no category, procedure, place or
      institution word: ``topic``) loses ``NO_TOPIC_PENALTY`` — people ask and moan about private things
      in any chat;
    - complaint and consultation evidence in one message do not cancel each other out in favour of
      "other": ``MIX_SHARE`` of the weaker reading goes to the stronger one (a complaint that asks
      "怎么回事？", a question that names a problem).
    """
    intent = dict(_NOTHING)
    for k, b in rules.intent_bias.items():
        intent[k] += b
    # per intent: the largest vote on each span of words (see vote below, inlined in the loop for speed)
    votes: dict[str, dict[Any, float]] = {"complaint": {}, "consultation": {}, "other": {}}
    complaint_votes = votes["complaint"]
    cats: dict[str, float] = {}
    tfidf: dict[str, float] = {}  # learned rules: feature value per pattern
    urgent = 0.0
    topic = False
    place = False  # a topic word that is not a category word: a place, a body, the public, a service
    topic_bonus = 0.0
    topic_kinds: set[str] = set()
    written = False
    evidence: list[Evidence] = []
    add = evidence.append
    written_key = ("written",)

    # (rule, matched words, occurrences, factor): the same words count once (one vote per span)
    items: list[tuple[Rule, str, int, float]] = [
        (rule, words[start] if end - start == 1 else "".join(words[start:end]), count, 1.0)
        for rule, start, end, count in matches]
    if extra:
        items += [(rule, text, 1, factor) for rule, text, factor in extra]
    if grams:  # learned character rules
        items += [(rule, text, count, 1.0) for rule, text, count in grams]
    for rule, span, count, factor in items:
        target = rule.target
        label = rule.label
        weight = rule.weight
        if rule.idf:
            x = (1.0 + math.log(count)) * rule.idf
            key = rule.pattern if isinstance(rule.pattern, str) else rule.pattern[0]
            tfidf["chars:" + key if rule.chars else key] = x  # a word and the same characters: two features
            w = weight * x
        else:
            w = weight * factor
        if rule.written:
            written = True
        if rule.topic or rule.public:
            topic = True
            if target == "intent":
                place = True
        if target == "intent":
            if rule.idf:
                intent[label] += w
            elif rule.topic:  # "a public matter": once, for whichever reading leads (see below)
                topic_kinds.add(rule.id)
                if w > topic_bonus:  # max(topic_bonus, w)
                    topic_bonus = w
            elif w < 0:  # vote(label, span, w); a text has one structure (written rules): its largest vote, once
                intent[label] += w
            else:
                d = votes[label]
                k = written_key if rule.written else span
                if w > d.get(k, 0.0):
                    d[k] = w
        elif target == "category":
            cats[label] = cats.get(label, 0.0) + w
        elif target == "urgent":
            urgent += w
        elif target == "veto":
            intent["complaint"] -= w
            intent["consultation"] -= w
        if rule.complaint:  # vote("complaint", span, ...)
            wc = rule.complaint * factor
            if wc < 0:
                intent["complaint"] += wc
            elif wc > complaint_votes.get(span, 0.0):
                complaint_votes[span] = wc
        add(Evidence(rule.id, target, label, span, round(weight * factor, 3)))
    if written and votes["other"] and WRITTEN_OTHER_FACTOR != 1.0:
        cut = (1.0 - WRITTEN_OTHER_FACTOR) * sum(votes["other"].values())
        intent["other"] -= cut
        evidence.append(Evidence("register.written_report", "intent", "other", "", -round(cut, 2)))
    for label, d in votes.items():
        intent[label] += sum(d.values())
    if len(topic_kinds) > 1 and "topic.named_place" in topic_kinds:  # a named place and a body, the public...
        topic_bonus += TOPIC_STACK
    if topic_bonus and max(intent["complaint"], intent["consultation"]) > 0:
        lead = "complaint" if intent["complaint"] >= intent["consultation"] else "consultation"
        intent[lead] += topic_bonus
    if (LONE_PROBLEM_CAP is not None and not rules.category_bias and not place
            and len(votes["complaint"]) <= 1 and intent["complaint"] > LONE_PROBLEM_CAP):
        # one word (停电, 打架, 不见了, 老年痴呆) is all the complaint rests on: no public place or body,
        # nothing else said about it
        cut = intent["complaint"] - LONE_PROBLEM_CAP
        intent["complaint"] -= cut
        evidence.append(Evidence("gate.problem_word_alone", "intent", "complaint", "", -round(cut, 2)))
    if not topic and not rules.category_bias:
        for label in ("complaint", "consultation"):
            pen = NO_TOPIC_PENALTY[label]
            if intent[label] > 0 and pen:
                cut = intent[label] - min(intent[label] - pen, NO_TOPIC_CAP)
                intent[label] -= cut
                evidence.append(Evidence("gate.no_public_topic", "intent", label, "", -round(cut, 2)))
    c, q = intent["complaint"], intent["consultation"]
    if c > 0 and q > 0 and MIX_SHARE:
        t = MIX_SHARE * min(c, q)
        strong, weak = ("complaint", "consultation") if c >= q else ("consultation", "complaint")
        intent[strong] += t
        intent[weak] -= t
        evidence.append(Evidence("mix.weaker_reading_joins_stronger", "intent", strong, "", round(t, 2)))
    if tfidf:  # learned weights are for L2-normalised tf-idf vectors
        norm = math.sqrt(sum(v * v for v in tfidf.values()))
        cats = {c: v / norm for c, v in cats.items()}
    # _softmax(intent), unrolled (the same floats): intent holds complaint, consultation, other in this order
    ic, iq, io = intent["complaint"], intent["consultation"], intent["other"]
    m = max(ic, iq, io)
    ec, eq, eo = math.exp(ic - m), math.exp(iq - m), math.exp(io - m)
    z = sum((ec, eq, eo))
    top, p_top = "other", eo / z
    p = ec / z
    if p > p_top:
        top, p_top = "complaint", p
    p = eq / z
    if p > p_top:
        top, p_top = "consultation", p
    category: str | None = None
    bias = rules.category_bias
    if bias:
        best, best_v = None, -math.inf
        for c in rules.categories:  # ties go to the earlier category
            v = cats.get(c, 0.0) + bias.get(c, 0.0)
            if v > best_v:
                best, best_v = c, v
        category = best
    elif cats:
        best, best_v = None, -math.inf
        get = cats.get
        for c in rules.categories:  # ties go to the earlier category (x + 0.0 compares as x)
            v = get(c, 0.0)
            if v > best_v:
                best, best_v = c, v
        category = best
    if category is None and top == "complaint":
        category = "other" if "other" in rules.categories else rules.categories[0]
    return Classification(intent=top, confidence=round(p_top, 4), category=category,
                          urgent=top == "complaint" and urgent >= URGENT_MIN,
                          scores={k: round(v, 3) for k, v in intent.items()}, evidence=tuple(evidence))
