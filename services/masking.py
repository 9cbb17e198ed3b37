"""Masking of phone and ID numbers in anything the bot posts (privacy rule)."""

from __future__ import annotations

import re

# 18-digit resident ID (last may be X), 15-digit old IDs; mobiles 1[3-9]xxxxxxxxx; landlines 0xxx-xxxxxxx.
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])|(?<!\d)(\d{6})(\d{6})(\d{3})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{3,4})(\d{4})(?!\d)")


def _mask_id(m: re.Match[str]) -> str:
    if m.group(1):
        return m.group(1)[:4] + "*" * 10 + m.group(3)[-4:]
    return m.group(4)[:4] + "*" * 8 + m.group(6)[-3:]


def phone_numbers(text: str) -> list[str]:
    """The mobile and landline numbers a resident wrote, as written (for the ticket's own staff, who must call)."""
    found = [m.group(0) for m in _MOBILE.finditer(text)] + [m.group(0) for m in _LANDLINE.finditer(text)]
    return list(dict.fromkeys(n.strip() for n in found))


def mask(text: str) -> str:
    """Hide the middle of ID, mobile and landline numbers; keep enough to recognise one's own."""
    text = _ID.sub(_mask_id, text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    return text
