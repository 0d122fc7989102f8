"""Braze's standard profile attributes and the format each must have (reference: "Attribute
objects"). Each check returns the error text for a value, or None when Braze takes it."""

from __future__ import annotations

from typing import Any

from braze_sim.formats import (
    GENDERS,
    MAX_STRING_CHARS,
    SUBSCRIBE_STATES,
    is_dob,
    is_email,
    is_language,
    is_short_string,
)

BAD_EMAIL = "'email' is not a valid email address"

#: standard attributes stored as sent once their check passed
PLAIN_STANDARD = frozenset({"first_name", "last_name", "home_city", "dob", "email_subscribe", "push_subscribe"})


def _string_field(name: str) -> Any:
    text = f"'{name}' must be a string of at most {MAX_STRING_CHARS} characters"
    return lambda value: None if value is None or (type(value) is str and len(value) <= MAX_STRING_CHARS) else text


def _choice(name: str, allowed: frozenset[str]) -> Any:
    text = f"'{name}' must be one of {', '.join(sorted(allowed))} or null"
    return lambda value: None if value is None or (type(value) is str and value in allowed) else text


def _email_field(value: object) -> str | None:
    return None if value is None or (type(value) is str and is_email(value)) else BAD_EMAIL


def _dob_field(value: object) -> str | None:
    return None if value is None or is_dob(value) else "'dob' must be a date as 'YYYY-MM-DD'"


def _gender_field(value: object) -> str | None:
    if value is None or (type(value) is str and value.upper() in GENDERS):
        return None
    return "'gender' must be one of M, F, O, N, P or null"


def _language_field(value: object) -> str | None:
    if value is None or (type(value) is str and is_language(value)):
        return None
    return "'language' must be an ISO-639-1 code"


def _lenient_string(name: str) -> Any:
    # country and time_zone: Braze guesses or drops unknown values instead of failing the object
    text = f"'{name}' must be a string"
    return lambda value: None if value is None or type(value) is str else text


def _subscription_groups_field(value: object) -> str | None:
    text = "'subscription_groups' must be a list of {subscription_group_id, subscription_state}"
    if type(value) is not list:
        return text
    for group in value:
        if (
            type(group) is not dict
            or not is_short_string(group.get("subscription_group_id"))
            or group.get("subscription_state") not in ("subscribed", "unsubscribed")
        ):
            return text
    return None


#: standard profile attributes and their check (reference: "Attribute objects")
STANDARD_ATTRIBUTES: dict[str, Any] = {
    "first_name": _string_field("first_name"),
    "last_name": _string_field("last_name"),
    "home_city": _string_field("home_city"),
    "email": _email_field,
    "phone": _string_field("phone"),
    "dob": _dob_field,
    "country": _lenient_string("country"),
    "language": _language_field,
    "gender": _gender_field,
    "time_zone": _lenient_string("time_zone"),
    "email_subscribe": _choice("email_subscribe", SUBSCRIBE_STATES),
    "push_subscribe": _choice("push_subscribe", SUBSCRIBE_STATES),
    "subscription_groups": _subscription_groups_field,
}
