"""Text as the classifier reads it: normalised characters and jieba's words.

jieba's precise mode without HMM is re-implemented here in one pass over each block (the same dictionary, the
same maximum-probability route, the same tie-breaking, the same floats: a property test checks the words are
jieba's own), because segmentation is most of a message's cost and the bot must keep up with a burst of
messages on a small machine. HMM new-word guessing is off: it is slower and makes rule words segment less
predictably.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
import unicodedata
from pathlib import Path
from typing import Any

#: Longer messages are cut to their first HEAD_CHARS and last TAIL_CHARS characters: the request and the problem
#: are almost always stated at the start or the end, and a pasted article must not cost seconds.
MAX_CHARS = 1200
HEAD_CHARS = 900
TAIL_CHARS = 300

_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_WS_RE = re.compile(r"[ \t\u3000]+")
#: jieba's own block pattern (jieba.re_han_default): it segments each such run independently.
RUN_RE = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NEG_INF = -math.inf

_LOCK = threading.RLock()
_READY = False
_USERDICTS: set[str] = set()
_LOGP: tuple[tuple[int, int, int], dict[str, float]] | None = None


def normalize(text: object) -> str:
    """NFKC (full-width → half-width), lower case, no control characters, whitespace runs collapsed, very long
    text cut to its head and tail."""
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


def jieba_module() -> Any:
    """jieba, initialised once per process (its dictionary load is ~0.5 s)."""
    global _READY
    import jieba

    with _LOCK:
        if not _READY:
            jieba.setLogLevel(logging.WARNING)
            os.makedirs(jieba.dt.tmp_dir or tempfile.gettempdir(), exist_ok=True)
            jieba.initialize()
            _READY = True
    return jieba


def add_words(words: list[str]) -> None:
    """Make rule words jieba words: a keyword jieba would split (路面积水 → 路/面积/水) is never a whole token."""
    jieba = jieba_module()
    with _LOCK:
        for w in sorted(set(words)):
            if len(w) > 1 and not jieba.dt.FREQ.get(w) and not w.isspace():
                jieba.add_word(w)


def load_userdict(path: Path) -> None:
    """A jieba user dictionary (``word [freq] [tag]`` a line), loaded once per process."""
    key = str(Path(path).resolve())
    jieba = jieba_module()
    with _LOCK:
        if key in _USERDICTS:
            return
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            jieba.add_word(parts[0], freq, parts[2] if len(parts) > 2 else None)
        _USERDICTS.add(key)


def logprob_table(freq: dict[str, int], total: int) -> dict[str, float]:
    """jieba's dictionary as log-probabilities: ``log(freq) - log(total)`` per word, ``-inf`` for the prefixes
    jieba stores with frequency 0 (no word; ``-inf`` never wins a route). Rebuilt only when the dictionary
    changes; one float object per distinct frequency keeps it about 30 MB."""
    global _LOGP
    key = (id(freq), len(freq), total)
    cur = _LOGP
    if cur is not None and cur[0] == key:
        return cur[1]
    with _LOCK:
        logtotal = math.log(total)
        log = math.log

        class ByFreq(dict[int, float]):
            def __missing__(self, f: int) -> float:
                v = self[f] = log(f) - logtotal
                return v

        by_freq = ByFreq({0: _NEG_INF})
        table = {w: by_freq[f] for w, f in freq.items()}
        _LOGP = (key, table)
    return table


def cut_block(sentence: str, get: Any, fallback: float) -> list[str]:
    """jieba's precise-mode cut of one Han/alnum block without HMM (``Tokenizer.__cut_DAG_NO_HMM``) in one
    right-to-left pass. ``get``: ``logprob_table(...).get``; ``fallback``: ``-log(total)``, the log-probability
    jieba gives a character that is no word."""
    n = len(sentence)
    score = [0.0] * (n + 1)
    end = [0] * n
    neg_inf = _NEG_INF
    for idx in range(n - 1, -1, -1):
        best = neg_inf
        best_y = idx + 1
        y = best_y
        p = get(sentence[idx])
        while p is not None:  # the fragment is a dictionary entry (a word, or a prefix of one)
            v = p + score[y]
            if v >= best:  # max((v, x)) over ascending x: ties go to the larger x, as in jieba
                best = v
                best_y = y
            if y == n:
                break
            y += 1
            p = get(sentence[idx:y])
        if best == neg_inf:
            best = fallback + score[idx + 1]
            best_y = idx + 1
        score[idx] = best
        end[idx] = best_y
    out: list[str] = []
    x = 0
    buf = ""
    alnum = _ASCII_ALNUM
    while x < n:  # ASCII letters and digits that are no dictionary word are joined, as jieba joins them
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


def words(norm: str) -> list[str]:
    """jieba's words of a normalised text (``jieba.lcut(norm, HMM=False)``) without whitespace and punctuation:
    the words are what the classifier reads; what is between them is not a word."""
    jieba = jieba_module()
    dt = jieba.dt
    get = logprob_table(dt.FREQ, dt.total).get
    fallback = 0.0 - math.log(dt.total)
    out: list[str] = []
    for run in RUN_RE.findall(norm):
        out.extend(cut_block(run, get, fallback))
    return out
