"""Text as the classifier reads it: normalised characters and jieba's words.

jieba (the Python package) is the dictionary's authority: the rules' words and user dictionaries are added to it,
with the frequencies it computes. The cutting itself is done by jieba-rs (``rjieba``), the same algorithm over the
same dictionary in compiled code, with every word added to jieba added to it at jieba's frequency: segmentation
was half of a message's cost in pure Python and the bot must keep up with a burst of messages on a small machine.
A test checks the words are one of jieba's own maximum-probability routes (where two routes are exactly as
likely, as in 喂喂喂, the two may choose differently: 4 of the 16,909 training messages). HMM new-word guessing is
off: it is slower and makes rule words segment less predictably.
"""

from __future__ import annotations

import logging
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

_LOCK = threading.RLock()
_READY = False
_USERDICTS: set[str] = set()
_CUTTER: Any = None  # rjieba.Jieba: jieba's dictionary and every word added to jieba here


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
    global _READY, _CUTTER
    import jieba
    import rjieba

    with _LOCK:
        if not _READY:
            jieba.setLogLevel(logging.WARNING)
            os.makedirs(jieba.dt.tmp_dir or tempfile.gettempdir(), exist_ok=True)
            jieba.initialize()
            _CUTTER = rjieba.Jieba()
            _READY = True
    return jieba


def _mirror(word: str) -> None:
    """A word just added to jieba, added to the cutter at the frequency jieba gave it (lock held)."""
    jieba = jieba_module()
    _CUTTER.add_word(word, int(jieba.dt.FREQ.get(word) or 1), None)


def add_words(words: list[str]) -> None:
    """Make rule words jieba words: a keyword jieba would split (路面积水 → 路/面积/水) is never a whole token."""
    jieba = jieba_module()
    with _LOCK:
        for w in sorted(set(words)):
            if len(w) > 1 and not jieba.dt.FREQ.get(w) and not w.isspace():
                jieba.add_word(w)
                _mirror(w)


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
            _mirror(parts[0])
        _USERDICTS.add(key)


def words(norm: str) -> list[str]:
    """jieba's words of a normalised text (``jieba.lcut(norm, HMM=False)``) without whitespace and punctuation:
    the words are what the classifier reads; what is between them is not a word."""
    jieba_module()
    cut = _CUTTER.cut
    out: list[str] = []
    for run in RUN_RE.findall(norm):  # each of jieba's blocks on its own, as jieba cuts them
        out.extend(cut(run, False))
    return out
