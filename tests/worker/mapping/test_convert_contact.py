from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from worker.mapping.convert_contact import _e164, _normal_email, phone_converter, to_country, to_email
from worker.mapping.convert_text import ValueRejected


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("joe@bloggs.com", "joe@bloggs.com"),
        ("Joe.Bloggs@Bloggs.COM", "joe.bloggs@bloggs.com"),
        ("joe+komo@bloggs.com.au", "joe+komo@bloggs.com.au"),
        ("zoe@exämple.com", "zoe@xn--exmple-cua.com"),
    ],
)
def test_emails_are_checked_and_lower_cased(text: str, email: str) -> None:
    assert to_email(text) == email


@pytest.mark.parametrize(
    "text",
    [
        "joe",
        "joe@",
        "@bloggs.com",
        "joe@@bloggs.com",
        "joe..bloggs@bloggs.com",
        "joe bloggs@bloggs.com",
        "joe@localhost",
        "joe@bloggs",
        "joe@[127.0.0.1]",
        '"joe"@bloggs.com',
        "Joe <joe@bloggs.com>",
        "zoë@bloggs.com",  # needs SMTPUTF8, which Braze's senders cannot rely on
        "x" * 250 + "@bloggs.com",
    ],
)
def test_invalid_emails_are_rejected_without_a_dns_lookup(text: str) -> None:
    with pytest.raises(ValueRejected) as raised:
        to_email(text)
    assert raised.value.reason == "not a valid email address"


def _validator_says(text: str) -> str | None:
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except (EmailNotValidError, UnicodeError, ValueError):
        return None
    return str(checked.ascii_email).lower()


_LOCAL = st.text(alphabet="abcXYZ019.+-_!#'\"\\ @()[]<>é", min_size=0, max_size=70)
_DOMAIN = st.sampled_from(
    ["bloggs.com", "Bloggs.COM", "x.test", "localhost", "a..b", "-a.com", "xn--exmple-cua.com", "exämple.com",
     "[1.2.3.4]", "a." + "b" * 63 + ".com", ".".join(["d" * 60] * 4) + ".au", "123.456", "bloggs.com."]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN)
@example(local="a" * 64, domain=".".join(["d" * 61] * 3) + ".com")
@example(local="info", domain="Bloggs.com")
def test_the_cached_domain_path_agrees_with_email_validator(local: str, domain: str) -> None:
    text = f"{local}@{domain}"
    assert _normal_email.__wrapped__(text) == _validator_says(text)


@given(st.emails())
def test_generated_addresses_agree_with_email_validator(text: str) -> None:
    assert _normal_email.__wrapped__(text) == _validator_says(text)


def _phonenumbers_says(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@settings(max_examples=400, deadline=None)
@given(
    text=st.from_regex(
        r"(\+6[14] ?|\+44 ?|\+1 ?|0011 ?|00 ?|0)?[0-9]{1,3}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}", fullmatch=True
    ),
    region=st.sampled_from(["AU", "CX", "NZ", "GB", "US", None]),
)
@example(text="+61 8 9164 1234", region="AU")  # Christmas Island, which shares +61 with Australia
@example(text="08 9162 1234", region="CX")
def test_the_own_region_first_check_agrees_with_phonenumbers(text: str, region: str | None) -> None:
    assert _e164.__wrapped__(text, region) == _phonenumbers_says(text, region)


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        ("0412 345 678", "AU", "+61412345678"),
        ("0412-345-678", "AU", "+61412345678"),
        ("+61 412 345 678", "AU", "+61412345678"),
        ("+61412345678", None, "+61412345678"),
        ("0011 61 412 345 678", "AU", "+61412345678"),
        ("021 123 4567", "NZ", "+64211234567"),
        ("+44 7911 123456", "AU", "+447911123456"),
        ("(02) 9374 4000", "AU", "+61293744000"),
        (61412345678, "AU", "+61412345678"),
    ],
)
def test_phone_numbers_become_e164(text: Any, region: str | None, phone: str) -> None:
    assert phone_converter(region)(text) == phone


@pytest.mark.parametrize(
    ("text", "region", "reason"),
    [
        ("0412 345 678", None, "no country code, and the hub has no default_region"),
        ("12345", "AU", "not a valid phone number"),
        ("call me", "AU", "not a valid phone number"),
        ("+61 412", "AU", "not a valid phone number"),
        ("0" * 100, "AU", "not a phone number"),
    ],
)
def test_invalid_phone_numbers_are_rejected(text: str, region: str | None, reason: str) -> None:
    with pytest.raises(ValueRejected) as raised:
        phone_converter(region)(text)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Australia", "AU"),
        ("australia", "AU"),
        ("AUS", "AU"),
        ("au", "AU"),
        ("New Zealand", "NZ"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("England", "GB"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("St Lucia", "LC"),
        ("Trinidad & Tobago", "TT"),
        ("the Netherlands", "NL"),
        ("Bosnia and Herzegovina", "BA"),
        ("NO", "NO"),
    ],
)
def test_countries_become_iso_alpha2(text: str, code: str) -> None:
    assert to_country(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "", "Europe", "XX"])
def test_unknown_countries_are_rejected(text: str) -> None:
    with pytest.raises(ValueRejected, match="not a known country"):
        to_country(text)


def test_a_country_must_be_text() -> None:
    with pytest.raises(ValueRejected, match="not a country"):
        to_country(36)
