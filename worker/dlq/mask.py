"""Mask emails and phone numbers in what ``dlq`` prints, unless the operator asks with ``--reveal``.

Komo bodies are flat and their keys are chosen by each hub owner, so masking goes by value, not only by
key. The parsers are the mapper's libraries, so that what the mapper would read as an address or a
number is masked, in any script:

- emails: every word of a text that holds an ``@`` (``x-error-detail`` quotes the address it refused);
  email-validator (without DNS, internationalised addresses allowed) tells a valid address, shown as
  ``j***@b***.de``, from one that only looks like one, shown as ``j***@***``: both are masked;
- phone numbers: phonenumbers' ``PhoneNumberMatcher`` finds international numbers inside a text; a
  whole value that reads as a phone number, and every digit of a value whose key names a phone, are
  masked too (a national number has no country code to be found by).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_PHONE = re.compile(r"^\+?[\d\s().-]{7,24}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$")
_PHONE_KEY = re.compile(r"phone|mobile|msisdn|\btel\b|cell", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
#: a word: a maximal run of characters that are not spaces, quotes, brackets or separators (linear)
_WORD = re.compile(r"""[^\s'"`<>()\[\]{},;:=]+""")
_PLUS_SIGNS = ("+", "\uff0b")  # the matcher reads numbers written with a country code only


@lru_cache(maxsize=4096)
def _masked_address(word: str) -> str:
    core = word.rstrip(".!?")
    local, _, domain = core.rpartition("@")
    if not local or not domain or local.endswith("***"):  # nothing to mask, or masked already
        return word
    try:
        checked = validate_email(core, check_deliverability=False, allow_smtputf8=True)
    except (EmailNotValidError, UnicodeError, ValueError):
        return f"{local[0]}***@***{word[len(core) :]}"
    top_level = str(checked.domain).rsplit(".", 1)[-1]
    return f"{local[0]}***@{domain[0]}***.{top_level}{word[len(core) :]}"


def mask_email(text: str) -> str:
    """``joe.bloggs@example.com`` -> ``j***@e***.com``, wherever addresses appear in ``text``."""
    if "@" not in text:
        return text
    return _WORD.sub(lambda m: _masked_address(m.group(0)) if "@" in m.group(0) else m.group(0), text)


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


def mask_phones_within(text: str) -> str:
    """Every international phone number phonenumbers finds in ``text``, masked."""
    if not any(sign in text for sign in _PLUS_SIGNS):
        return text
    spans = [(match.start, match.end) for match in phonenumbers.PhoneNumberMatcher(text, None)]
    for start, end in reversed(spans):
        text = text[:start] + mask_phone(text[start:end]) + text[end:]
    return text


def mask_text(text: str, key: str | None = None) -> str:
    if (key is not None and _PHONE_KEY.search(key)) or looks_like_phone(text):
        return mask_phone(text)
    return mask_phones_within(mask_email(text))


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
