"""The value formats Braze documents for ``/users/track`` (reference: "Attribute objects", "Event
objects", "Purchases"), as cheap predicates. Results of the costly checks are cached: a benchmark or a
demo sends the same values again and again."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from functools import lru_cache

import phonenumbers
import pycountry

MAX_STRING_CHARS = 255

#: ISO-8601 as Braze takes it, also its ``yyyy-MM-dd'T'HH:mm:ss:SSSZ`` form and the one-digit hour
#: offset of its own examples (``+1:00``); ``datetime.fromisoformat`` handles the common forms first
_LOOSE_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.:]\d{1,9})?)?)?"
    r"(?:Z|[+-]\d{1,2}(?::?\d{2})?)?"
)
_DOB = re.compile(r"\d{4}-\d{2}-\d{2}")
#: an address as mail systems take it: a local part without spaces, quotes or brackets (dots not at
#: either end, never two in a row) and a domain of letter-digit-hyphen labels with a top-level name,
#: in letters or in its ASCII (punycode, ``xn--``) form
_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[^\s@\"(),:;<>\[\]\\]{1,64}(?<!\.)"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|(?i:xn--)[a-z0-9-]{1,59}(?<!-))"
)

SUBSCRIBE_STATES = frozenset({"opted_in", "subscribed", "unsubscribed"})
GROUP_STATES = frozenset({"subscribed", "unsubscribed"})
GENDERS = frozenset({"M", "F", "O", "N", "P"})
LANGUAGES = frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
_COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)


def is_short_string(value: object) -> bool:
    return type(value) is str and len(value) <= MAX_STRING_CHARS


def is_number(value: object) -> bool:
    """An integer or float, not a boolean (JSON ``true`` is not a price)."""
    return type(value) is int or type(value) is float


def is_iso_datetime(value: object) -> bool:
    """A datetime (or date) string in ISO-8601, as Braze reads event ``time`` and date attributes."""
    if type(value) is not str:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return _is_loose_iso(value)
    return True


@lru_cache(maxsize=4096)
def _is_loose_iso(text: str) -> bool:
    match = _LOOSE_ISO.fullmatch(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = match.groups()
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return int(hour or 0) < 24 and int(minute or 0) < 60 and int(second or 0) < 61


def is_dob(value: object) -> bool:
    """``YYYY-MM-DD`` exactly, and a real calendar date."""
    return type(value) is str and _is_dob_text(value)


@lru_cache(maxsize=65536)
def _is_dob_text(value: str) -> bool:
    if _DOB.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_email(value: str) -> bool:
    """A syntactically valid address (no DNS look-up: the sim never leaves the machine)."""
    return len(value) <= MAX_STRING_CHARS and _EMAIL.fullmatch(value) is not None


@lru_cache(maxsize=65536)
def e164(value: str) -> str | None:
    """The E.164 form of a phone number written with its country code, else None."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """Braze's reading of ``country``: alpha-2 kept, other spellings guessed, unknown ones null."""
    upper = value.strip().upper()
    if upper in _COUNTRIES:
        return upper
    try:
        return str(pycountry.countries.lookup(value.strip()).alpha_2)
    except LookupError:
        return None


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(value: str) -> bool:
    return value in _time_zones()


def is_language(value: str) -> bool:
    return value.lower() in LANGUAGES


def is_currency(value: object) -> bool:
    return type(value) is str and value.upper() in CURRENCIES
