"""Converters for plain values: text, numbers, yes/no, gender and lists.

A converter takes one Komo value (already stripped when it is text, never empty or ``None``) and returns
what Braze should receive, or :data:`SKIP` to send nothing, or raises :class:`ValueRejected` with a reason that
never contains the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

MAX_TEXT = 255  # Braze's limit for string values, attribute names and property keys
MAX_SAFE_INTEGER = 2**53 - 1  # beyond this a JSON number loses precision in most readers

Converter = Callable[[Any], Any]


class ValueRejected(Exception):
    """A value does not fit its type; ``reason`` names the problem, never the value.

    Raised ``from None`` on purpose: the cause would carry the value itself (a ``JSONDecodeError`` keeps
    the whole document, a ``ValueError`` quotes what it could not parse), and values are personal data.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Skip:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()
"""A converter's answer for "this value means: send nothing" (an unticked consent box)."""


def text_of(value: Any) -> str:
    """A Komo value as text; numbers are accepted because some senders do not quote them."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    raise ValueRejected("not a text value")


def to_string(value: Any) -> str:
    text = value if type(value) is str else text_of(value)
    if len(text) > MAX_TEXT:
        raise ValueRejected(f"longer than {MAX_TEXT} characters")
    return text


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


#: a sign and the digits of MAX_SAFE_INTEGER: longer digit strings are read as floats (a float
#: from text never raises; ``int()`` of 4,301 digits and ``float()`` of a 309-digit int do)
SAFE_INTEGER_CHARS: Final = len(str(MAX_SAFE_INTEGER)) + 1


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueRejected("not a number")
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else _float_of(value)
    if isinstance(value, float):
        return _finite(value)
    if type(value) is not str or not _NUMBER.fullmatch(value):
        raise ValueRejected("not a number")
    if len(value) <= SAFE_INTEGER_CHARS and value.lstrip("+-").isdigit():
        whole = int(value)
        return whole if abs(whole) <= MAX_SAFE_INTEGER else _finite(float(whole))
    return _finite(float(value))


def _float_of(whole: int) -> float:
    try:
        return _finite(float(whole))
    except OverflowError:
        raise ValueRejected("not a finite number") from None


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise ValueRejected("not a finite number")
    return number


def to_integer(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueRejected("not a whole number")
        number = int(number)
    if abs(number) > MAX_SAFE_INTEGER:
        raise ValueRejected("too large for an integer")
    return number


TRUE_WORDS: Final = frozenset({"true", "yes", "1", "on", "y", "t", "checked", "ticked"})
FALSE_WORDS: Final = frozenset({"false", "no", "0", "off", "n", "f", "unchecked", "unticked"})


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if type(value) is str:
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueRejected("not a yes/no value")


GENDER_LETTERS: Final = frozenset("MFONP")
GENDER_WORDS: Final[dict[str, str]] = {
    **dict.fromkeys(["m", "male", "man", "boy", "he", "he/him"], "M"),
    **dict.fromkeys(["f", "female", "woman", "girl", "she", "she/her"], "F"),
    **dict.fromkeys(
        ["o", "other", "non-binary", "nonbinary", "non binary", "enby", "genderqueer", "gender diverse",
         "gender-diverse", "they", "they/them", "agender", "genderfluid", "x"],
        "O",
    ),
    **dict.fromkeys(["n", "not applicable", "n/a", "na", "none"], "N"),
    **dict.fromkeys(
        ["p", "prefer not to say", "prefer not to answer", "rather not say", "undisclosed", "unknown",
         "prefer not to disclose", "decline to answer"],
        "P",
    ),
}  # fmt: skip


def gender_converter(extra_words: Mapping[str, str]) -> Converter:
    """``extra_words`` (a hub's own option labels, e.g. ``Mr: M``) extend the common words."""
    words = {**GENDER_WORDS, **{word.strip().lower(): letter for word, letter in extra_words.items()}}

    def to_gender(value: Any) -> str:
        if type(value) is not str:
            raise ValueRejected("not a gender")
        letter = words.get(value.lower())
        if letter is None:
            raise ValueRejected("not a known gender word")
        return letter

    return to_gender


def list_converter(*, mode: str, separator: str, max_items: int) -> Converter:
    """Comma-separated text or a JSON list into a list of distinct strings; ``mode: add`` adds to Braze's."""

    def to_list(value: Any) -> Any:
        if type(value) is str:
            if value.startswith("["):
                try:
                    value = orjson.loads(value)
                except orjson.JSONDecodeError:
                    raise ValueRejected("not a valid JSON list") from None
            else:
                value = value.split(separator)
        if not isinstance(value, list):
            raise ValueRejected("not a list")
        items: dict[str, None] = {}  # ordered and distinct
        for item in value:
            if item is None:
                continue
            if type(item) is str:
                text = item.strip()
            elif isinstance(item, int | float) and not isinstance(item, bool):
                text = text_of(item)
            else:
                raise ValueRejected("holds an item that is not text")
            if not text:
                continue
            if len(text) > MAX_TEXT:
                raise ValueRejected(f"an item is longer than {MAX_TEXT} characters")
            items[text] = None
        if len(items) > max_items:
            raise ValueRejected(f"more than {max_items} items")
        if not items:
            return SKIP
        return {"add": list(items)} if mode == "add" else list(items)

    return to_list
