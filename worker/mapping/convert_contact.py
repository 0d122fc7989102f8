"""Converters for contact data: email addresses, phone numbers and countries.

Each uses a maintained library (``email-validator`` without DNS, ``phonenumbers``, ``pycountry``), and
each keeps a bounded cache of recent answers: a user who enters again, and the identifier and the
attribute read from one field, cost one validation instead of several.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Final

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email
from email_validator import syntax as email_syntax

from worker.mapping.convert_text import Converter, ValueRejected, text_of

CACHE_SIZE = 16_384


EMAIL_MAX_LENGTH = 254  # RFC 5321, in UTF-8 bytes, as email-validator counts it
_NEEDS_FULL_PARSE = frozenset('"<>\\()[]')


@lru_cache(maxsize=CACHE_SIZE)
def _normal_email(text: str) -> str | None:
    """The address checked by email-validator: its local part per address, its domain once per domain.

    ``validate_email`` spends two thirds of its time on the domain, and most mail goes to a handful of
    domains, so a plain ASCII ``local@domain`` is checked in the validator's two halves, the domain's
    answer cached. Anything unusual (quotes, brackets, non-ASCII) takes the whole ``validate_email``.
    The test suite checks both paths agree.
    """
    if not text.isascii() or text.count("@") != 1 or not _NEEDS_FULL_PARSE.isdisjoint(text):
        return _whole_email(text)
    local, _, domain = text.partition("@")
    try:
        local_part = email_syntax.validate_email_local_part(local, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    domains = _domain_forms(domain)
    if domains is None:
        return None
    unicode_domain, ascii_domain = domains
    ascii_email = f"{local_part['ascii_local_part']}@{ascii_domain}"
    normalized = f"{local_part['local_part']}@{unicode_domain}"
    if max(len(text), len(normalized.encode()), len(ascii_email)) > EMAIL_MAX_LENGTH:
        return None
    # Mail providers, and Braze's matching on email, treat addresses case-insensitively: one user, one key.
    return ascii_email.lower()


@lru_cache(maxsize=CACHE_SIZE)
def _domain_forms(domain: str) -> tuple[str, str] | None:
    """(unicode, ASCII) forms of a valid mail domain; checked through the shortest address it can end."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    if checked.ascii_email is None:  # pragma: no cover - an ASCII local part always has an ASCII form
        return None
    return str(checked.domain), str(checked.ascii_domain)


def _whole_email(text: str) -> str | None:
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    return str(checked.ascii_email or checked.normalized).lower()


def to_email(value: Any) -> str:
    """A syntax-checked address, lower-cased, with an internationalised domain in its ASCII form."""
    if type(value) is not str:
        raise ValueRejected("not an email address")
    email = _normal_email(value)
    if email is None:
        raise ValueRejected("not a valid email address")
    return email


@lru_cache(maxsize=CACHE_SIZE)
def _e164(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # Most numbers belong to the hub's own region: checking that region first is half the cost of asking
    # every region that shares the country code (AU, CX and CC share +61), which remains the fallback.
    in_region = region is not None and phonenumbers.is_valid_number_for_region(number, region)
    if not in_region and not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def phone_converter(default_region: str | None) -> Converter:
    """E.164 numbers; a number without a country code is read as one of ``default_region``."""

    def to_phone(value: Any) -> str:
        text = text_of(value)
        if len(text) > 64:
            raise ValueRejected("not a phone number")
        phone = _e164(text, default_region)
        if phone is None:
            if default_region is None and not text.lstrip().startswith(("+", "00")):
                raise ValueRejected("no country code, and the hub has no default_region")
            raise ValueRejected("not a valid phone number")
        return phone

    return to_phone


_PUNCTUATION = re.compile(r"[.,'’`()\-/]+")
_SPACES = re.compile(r"\s+")

#: spellings people use that ISO 3166 does not list
_COUNTRY_ALIASES: Final = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "us": "US", "america": "US", "united states of america": "US",
    "uae": "AE", "emirates": "AE", "south korea": "KR", "korea": "KR", "north korea": "KP", "russia": "RU",
    "czech republic": "CZ", "holland": "NL", "ivory coast": "CI", "vatican": "VA", "vatican city": "VA",
    "holy see": "VA", "turkey": "TR", "swaziland": "SZ", "macedonia": "MK", "burma": "MM",
    "cape verde": "CV", "east timor": "TL", "palestine": "PS", "macau": "MO", "brunei": "BN",
    "micronesia": "FM", "drc": "CD", "dr congo": "CD", "democratic republic of congo": "CD",
    "republic of the congo": "CG", "congo brazzaville": "CG", "congo kinshasa": "CD", "taiwan": "TW",
    "saint martin": "MF", "sint maarten": "SX", "the netherlands": "NL", "new zealand aotearoa": "NZ",
    "aotearoa": "NZ", "kiwi": "NZ", "aus": "AU", "oz": "AU",
}  # fmt: skip


def country_key(text: str) -> str:
    """Spelling, accents, case and punctuation folded away: ``Côte d'Ivoire`` and ``cote d ivoire`` meet."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    folded = _PUNCTUATION.sub(" ", folded.casefold().replace("&", " and "))
    words = _SPACES.sub(" ", folded).strip().split(" ")
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    return " ".join("saint" if word == "st" else word for word in words)


def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    derived: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        index[country_key(code)] = code
        index[country_key(str(country.alpha_3))] = code
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if not name:
                continue
            index.setdefault(country_key(name), code)
            if ", " in name:  # "Korea, Republic of" is also written "Republic of Korea"
                head, _, tail = name.partition(", ")
                derived.setdefault(country_key(f"{tail} {head}"), code)
    for key, code in derived.items():
        index.setdefault(key, code)
    for alias, code in _COUNTRY_ALIASES.items():
        index.setdefault(country_key(alias), code)
    return index


_COUNTRIES: Final = _country_index()


@lru_cache(maxsize=1024)  # a hub sees a few dozen spellings, over and over
def _country_code(text: str) -> str | None:
    return _COUNTRIES.get(country_key(text))


def to_country(value: Any) -> str:
    """A country name, alpha-3 or alpha-2 code as ISO 3166-1 alpha-2 (``Australia``, ``AUS`` → ``AU``)."""
    if type(value) is not str or len(value) > 100:
        raise ValueRejected("not a country")
    code = _country_code(value)
    if code is None:
        raise ValueRejected("not a known country")
    return code
