"""Hand-written rules: named patterns a person wrote down because they mean something (a fire word, a way of
asking, the shape of a written petition). They carry no weights: each rule that fires is a feature of the
learned model (``rule:<id>``), which gives it one learned weight per label, and its matched words are the
evidence an official reads.

A rule file is JSONL in spaCy's EntityRuler pattern format, one rule a line:

- ``{"id": "urgent.gas", "pattern": [{"ORTH": {"IN": ["煤气味", "漏气"]}}]}`` — token patterns, validated by
  spaCy's Matcher; exact-word patterns are matched by dictionary look-ups on jieba's words, anything else
  (operators, other attributes) by spaCy's Matcher;
- ``{"id": "topic.road_word", "pattern": "路灯"}`` — a phrase (its jieba words in sequence);
- ``{"id": "structure.petition_led", "regex": "^(?:关于|投诉)…", "literals": ["关于", "投诉"], "unless": "…"}`` —
  a regular expression over the normalised characters, tried only when one of its literals occurs and not when
  ``unless`` matches anywhere.

``note`` is free text for reviewers. Lines starting with ``#`` or ``//`` are comments.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifiers import segment

RULES_DIR = Path(__file__).parent / "rules"
_KEYS = {"id", "pattern", "regex", "literals", "unless", "note"}
_WORD_ATTRS = ("ORTH", "TEXT", "LOWER")


class RuleError(ValueError):
    """A rule file is malformed (the message names the file, line and rule)."""


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: str | tuple[str, ...] = ""  # a phrase, or a token pattern frozen as JSON strings (one a token)
    regex: str = ""
    literals: tuple[str, ...] = ()
    unless: str = ""
    note: str = ""
    source: str = ""

    @property
    def tokens(self) -> list[dict[str, Any]] | None:
        return None if self.regex or isinstance(self.pattern, str) else [json.loads(t) for t in self.pattern]


def _token_words(tok: dict[str, Any]) -> list[str] | None:
    """The words one token of a pattern matches, if it is an exact-word token (no operator, one attribute)."""
    if len(tok) != 1:
        return None
    key, v = next(iter(tok.items()))
    if key not in _WORD_ATTRS:
        return None
    if isinstance(v, str):
        return [v.lower()]
    if isinstance(v, dict) and set(v) == {"IN"} and isinstance(v["IN"], list):
        return [str(x).lower() for x in v["IN"]]
    return None


def read_rule_file(path: Path) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
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
        unknown = set(obj) - _KEYS
        if unknown:
            raise RuleError(
                f"{where}: unknown field(s) {sorted(unknown)}; a rule has {sorted(_KEYS)} "
                "(weights are learned: see `shanzhi rules train`)"
            )
        rid = str(obj.get("id") or "")
        if not rid:
            raise RuleError(f"{where}: a rule needs an id")
        if rid in seen:
            raise RuleError(f"{where}: rule id {rid} used twice")
        seen.add(rid)
        regex = str(obj.get("regex") or "")
        unless = str(obj.get("unless") or "")
        if regex:
            lits = obj.get("literals") or []
            if not isinstance(lits, list) or not lits or not all(isinstance(x, str) and x for x in lits):
                raise RuleError(f"{where}: rule {rid}: literals must be a non-empty list of strings")
            for rx in (regex, unless):
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise RuleError(f"{where}: rule {rid}: bad regex: {exc}") from exc
            rules.append(
                Rule(
                    rid,
                    regex=regex,
                    literals=tuple(x.lower() for x in lits),
                    unless=unless,
                    note=str(obj.get("note", "")),
                    source=str(path),
                )
            )
            continue
        if unless:
            raise RuleError(f"{where}: rule {rid}: unless is only for regex rules")
        p = obj.get("pattern")
        if isinstance(p, str) and p.strip():
            pattern: str | tuple[str, ...] = p.lower()
        elif isinstance(p, list) and p and all(isinstance(t, dict) for t in p):
            pattern = tuple(json.dumps(t, ensure_ascii=False, sort_keys=True) for t in p)
        else:
            raise RuleError(f"{where}: rule {rid}: pattern must be a phrase or a list of token dicts")
        rules.append(Rule(rid, pattern=pattern, note=str(obj.get("note", "")), source=str(path)))
    return rules


def rule_files(paths: Iterable[Path | str]) -> list[Path]:
    """Rule files (``*.jsonl``) and jieba user dictionaries (``*.txt``) named or inside the named folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.txt")) + sorted(p.glob("*.jsonl")))
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"rule file not found: {p}")
    return out


@dataclass
class RuleSet:
    """Compiled rules: which fire on a text, with the words they matched."""

    rules: tuple[Rule, ...]
    sources: tuple[str, ...] = ()
    _words: dict[str, tuple[int, ...]] = field(default_factory=dict)  # word -> rules it alone matches
    _seqs: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = field(default_factory=dict)  # first word -> seqs
    _regexes: tuple[tuple[int, re.Pattern[str], re.Pattern[str] | None], ...] = ()
    _literals: Any = None  # Aho-Corasick automaton: literal -> the regex rules it lets try
    _matcher: Any = None
    _nlp_vocab: Any = None
    _lock: Any = field(default_factory=threading.Lock)

    def __hash__(self) -> int:
        return id(self)

    @classmethod
    def build(cls, files: Sequence[Path]) -> RuleSet:
        rules: list[Rule] = []
        ids: set[str] = set()
        for f in files:
            if f.suffix == ".txt":
                segment.load_userdict(f)
                continue
            for r in read_rule_file(f):
                if r.id in ids:
                    raise RuleError(f"{f}: rule id {r.id} is also defined in another file")
                ids.add(r.id)
                rules.append(r)
        return cls(tuple(rules), tuple(map(str, files))).compile()

    def compile(self) -> RuleSet:
        import spacy
        from spacy.matcher import Matcher

        vocab = spacy.blank("zh").vocab  # the default (character) segmenter: only the vocab is used
        validator = Matcher(vocab, validate=True)
        matcher = Matcher(vocab)
        words: dict[str, list[int]] = {}
        seqs: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        regexes = []
        needed: list[str] = []
        for idx, r in enumerate(self.rules):
            if r.regex:
                regexes.append((idx, re.compile(r.regex), re.compile(r.unless) if r.unless else None))
                continue
            if isinstance(r.pattern, str):
                needed.append(r.pattern)
                continue
            toks = r.tokens or []
            try:
                validator.add(r.id, [toks])
            except Exception as exc:
                raise RuleError(f"{r.source}: rule {r.id}: bad token pattern: {exc}") from exc
            per_tok = [_token_words(t) for t in toks]
            if all(w is not None for w in per_tok):
                for ws in per_tok:
                    needed.extend(ws or [])
                if len(toks) == 1:
                    for w in per_tok[0] or []:
                        words.setdefault(w, []).append(idx)
                    continue
                if all(len(ws or []) == 1 for ws in per_tok):
                    seq = tuple((ws or [""])[0] for ws in per_tok)
                    seqs.setdefault(seq[0], []).append((seq, idx))
                    continue
            matcher.add(str(idx), [toks])
        segment.add_words(needed)
        for idx, r in enumerate(self.rules):
            if isinstance(r.pattern, str) and r.pattern and not r.regex:
                cut = tuple(segment.words(segment.normalize(r.pattern)))
                if len(cut) == 1:
                    words.setdefault(cut[0], []).append(idx)
                elif cut:
                    seqs.setdefault(cut[0], []).append((cut, idx))
        self._words = {w: tuple(v) for w, v in words.items()}
        self._seqs = {w: tuple(v) for w, v in seqs.items()}
        self._regexes = tuple(regexes)
        self._literals = None
        if regexes:
            import ahocorasick

            by_lit: dict[str, list[int]] = {}
            for idx, _rx, _u in regexes:
                for lit in self.rules[idx].literals:
                    by_lit.setdefault(lit, []).append(idx)
            auto = ahocorasick.Automaton()
            for lit, idxs in by_lit.items():
                auto.add_word(lit, tuple(idxs))
            auto.make_automaton()
            self._literals = auto
        self._matcher = matcher if len(matcher) else None
        self._nlp_vocab = vocab
        return self

    def match(self, norm: str, words: Sequence[str]) -> list[tuple[Rule, str]]:
        """The rules that fire on a normalised text and its jieba words: (rule, the words it matched first)."""
        found: dict[int, str] = {}
        wget, sget = self._words.get, self._seqs.get
        n = len(words)
        for i, w in enumerate(words):
            idxs = wget(w)
            if idxs is not None:
                for idx in idxs:
                    if idx not in found:
                        found[idx] = w
            seqs = sget(w)
            if seqs is not None:
                for seq, idx in seqs:
                    k = len(seq)
                    if idx not in found and i + k <= n and tuple(words[i : i + k]) == seq:
                        found[idx] = "".join(seq)
        auto = self._literals
        tried = {idx for _end, idxs in auto.iter(norm) for idx in idxs} if auto is not None else ()
        for idx, rx, unless in self._regexes:
            if idx in found or idx not in tried:
                continue
            m = rx.search(norm)
            if m is not None and (unless is None or unless.search(norm) is None):
                found[idx] = m.group(0)
        if self._matcher is not None and words:
            from spacy.tokens import Doc

            doc = Doc(self._nlp_vocab, words=list(words), spaces=[False] * n)
            with self._lock:  # spaCy's Matcher is not documented as thread-safe
                hits = self._matcher(doc)
            for key, start, end in hits:
                idx = int(self._nlp_vocab.strings[key])
                if idx not in found:
                    found[idx] = "".join(words[start:end])
        rules = self.rules
        return [(rules[idx], found[idx]) for idx in sorted(found)]


_CACHE: dict[tuple[str, ...], RuleSet] = {}
_CACHE_LOCK = threading.Lock()


def load_rules(paths: Sequence[Path | str] | None = None, *, include_default: bool = True) -> RuleSet:
    """The hand-written rules (``classifiers/rules/``) and/or extra files, compiled once per process."""
    files = (rule_files([RULES_DIR]) if include_default else []) + rule_files(paths or ())
    key = tuple(str(f.resolve()) for f in files)
    with _CACHE_LOCK:
        rs = _CACHE.get(key)
        if rs is None:
            rs = _CACHE[key] = RuleSet.build(files)
    return rs
