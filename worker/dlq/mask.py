"""Mask emails and phone numbers in what ``dlq`` prints, unless the operator asks with ``--reveal``.

Komo bodies are flat and their keys are chosen by each hub owner, so masking goes by value, not only by
key: any email address anywhere in a string (Braze's error texts quote them too), any string that reads
as a phone number, and every digit of a value whose key names a phone.
"""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*(\.[A-Za-z]{2,})")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,24}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$")
_PHONE_KEY = re.compile(r"phone|mobile|msisdn|\btel\b|cell", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


def mask_email(text: str) -> str:
    """``joe.bloggs@example.com`` -> ``j***@e***.com``, wherever addresses appear in ``text``."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***{m.group(3)}", text)


def looks_like_phone(text: str) -> bool:
    stripped = text.strip()
    if not _PHONE.match(stripped) or _DATE_LIKE.match(stripped):
        return False
    return 7 <= len(_DIGIT.findall(stripped)) <= 15


def mask_phone(text: str) -> str:
    """Every digit but the last two replaced: ``+61 412 345 678`` -> ``+** *** *** *78``."""
    digits = len(_DIGIT.findall(text))
    seen = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group(0) if seen > digits - 2 else "*"

    return _DIGIT.sub(replace, text)


def mask_text(text: str, key: str | None = None) -> str:
    if (key is not None and _PHONE_KEY.search(key)) or looks_like_phone(text):
        return mask_phone(text)
    return mask_email(text)


def mask(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, strings, numbers) with personal contacts masked."""
    if isinstance(value, str):
        return mask_text(value, key)
    if isinstance(value, bytes):
        return mask_text(value.decode("utf-8", "replace"), key)
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and key is not None and _PHONE_KEY.search(key):
        return mask_phone(str(value))
    return value
