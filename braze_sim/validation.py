"""Braze's rules for ``/users/track``, written from the reference page and nothing else.

Per object: ``validate_attribute_object``, ``validate_event_object`` and ``validate_purchase_object``
return the error texts for one object (empty: valid). A text names fields, never their values: it travels
into the caller's logs and dead-letter headers. Per request: ``bearer_key``, ``parse_body`` and
``object_arrays`` raise :class:`RequestRejected` with Braze's status code for a fatal error.
"""

from __future__ import annotations

from typing import Any

import orjson

from braze_sim.config import ObjectLimitMode
from braze_sim.formats import (
    MAX_STRING_CHARS,
    country_code,
    e164,
    is_currency,
    is_email,
    is_iso_datetime,
    is_number,
    is_short_string,
)
from braze_sim.properties import custom_attribute_problem, properties_problems
from braze_sim.standard import BAD_EMAIL, PLAIN_STANDARD, STANDARD_ATTRIBUTES

NOT_AN_OBJECT = "object must be a JSON object"
MISSING_IDENTIFIER = "object must have one of 'external_id', 'braze_id', 'user_alias', 'email' or 'phone'"
SEVERAL_IDENTIFIERS = "object must have only one of 'external_id', 'braze_id' or 'user_alias'"
BAD_ALIAS = "'user_alias' must be an object with string 'alias_name' and 'alias_label'"
BAD_PHONE = "'phone' is not a valid phone number"
BAD_UPDATE_ONLY = "'_update_existing_only' must be a boolean"

#: keys of an attribute object that are not attributes
CONTROL_KEYS = frozenset(
    {"external_id", "braze_id", "user_alias", "_update_existing_only", "_merge_objects", "push_token_import"}
)
ID_KEYS = ("external_id", "braze_id", "user_alias")


def identifier_problem(obj: dict[str, Any], *, check_contact: bool) -> str | None:
    """Exactly one of external_id, braze_id, user_alias; else email (which wins over phone), else phone."""
    if "external_id" in obj and "braze_id" not in obj and "user_alias" not in obj:  # the common case
        value = obj["external_id"]
        return None if type(value) is str and value else "'external_id' must be a non-empty string"
    present = [key for key in ID_KEYS if key in obj]
    if len(present) > 1:
        return SEVERAL_IDENTIFIERS
    if present:
        key = present[0]
        value = obj[key]
        if key == "user_alias":
            if type(value) is not dict or not (
                is_short_string(value.get("alias_name")) and is_short_string(value.get("alias_label"))
            ):
                return BAD_ALIAS
            return None
        if type(value) is not str or not value:
            return f"'{key}' must be a non-empty string"
        return None
    if "email" in obj:
        email = obj["email"]
        if check_contact and not (type(email) is str and is_email(email)):
            return BAD_EMAIL
        return None
    if "phone" in obj:
        phone = obj["phone"]
        return None if type(phone) is str and e164(phone) is not None else BAD_PHONE
    return MISSING_IDENTIFIER


def _common_problems(obj: dict[str, Any], *, check_contact: bool) -> list[str]:
    errors: list[str] = []
    if "external_id" in obj and type(obj["external_id"]) is str and obj["external_id"]:
        problem = SEVERAL_IDENTIFIERS if "braze_id" in obj or "user_alias" in obj else None
    else:
        problem = identifier_problem(obj, check_contact=check_contact)
    if problem is not None:
        errors.append(problem)
    if "_update_existing_only" in obj and type(obj["_update_existing_only"]) is not bool:
        errors.append(BAD_UPDATE_ONLY)
    if "_merge_objects" in obj and type(obj["_merge_objects"]) is not bool:
        errors.append("'_merge_objects' must be a boolean")
    return errors


_PLAIN_TYPES = (str, int, float, bool)


def scan_attribute_object(obj: dict[str, Any]) -> tuple[list[str], dict[str, Any], list[str]]:
    """One pass over an attribute object: its errors, the values to set as sent (``plain``; a country
    as Braze reads it), and the keys whose update needs more than a set (contact fields, null, arrays,
    ``inc``, nested objects). :func:`braze_sim.scan.fast_scan` is the same, compiled per shape.
    """
    errors = _common_problems(obj, check_contact=False)
    plain: dict[str, Any] = {}
    special: list[str] = []
    for key, value in obj.items():
        if key in CONTROL_KEYS:
            continue
        check = STANDARD_ATTRIBUTES.get(key)
        problem = check(value) if check is not None else custom_attribute_problem(key, value)
        if problem is not None:
            errors.append(problem)
        elif value is None:
            special.append(key)
        elif key in PLAIN_STANDARD or (check is None and isinstance(value, _PLAIN_TYPES)):
            plain[key] = value
        elif key == "country" and (code := country_code(value)) is not None:
            plain[key] = code  # other spellings guessed; unknown ones go to null through ``special``
        else:
            special.append(key)
    return errors, plain, special


def validate_attribute_object(obj: dict[str, Any]) -> list[str]:
    """Braze's error texts for one attribute object (empty list: valid)."""
    if type(obj) is not dict:
        return [NOT_AN_OBJECT]
    return scan_attribute_object(obj)[0]


def _time_problem(obj: dict[str, Any]) -> str | None:
    if "time" not in obj:
        return "'time' is required"
    return None if is_iso_datetime(obj["time"]) else "'time' must be an ISO-8601 datetime"


def _tail_problems(obj: dict[str, Any], errors: list[str]) -> list[str]:
    problem = _time_problem(obj)
    if problem is not None:
        errors.append(problem)
    if "app_id" in obj and type(obj["app_id"]) is not str:
        errors.append("'app_id' must be a string")
    properties = obj.get("properties")
    if properties is not None:
        errors.extend(properties_problems(properties))
    return errors


def _plain_event(obj: dict[str, Any]) -> bool:
    """An event keyed by a valid external_id with a valid name and time, and nothing unusual."""
    external_id = obj.get("external_id")
    name = obj.get("name")
    return (
        type(external_id) is str
        and external_id != ""
        and type(name) is str
        and 0 < len(name) <= MAX_STRING_CHARS
        and is_iso_datetime(obj.get("time"))
        and "braze_id" not in obj
        and "user_alias" not in obj
        and "_update_existing_only" not in obj
        and "_merge_objects" not in obj
        and ("app_id" not in obj or type(obj["app_id"]) is str)
    )


def validate_event_object(obj: dict[str, Any]) -> list[str]:
    """Braze's error texts for one event object (empty list: valid)."""
    if type(obj) is not dict:
        return [NOT_AN_OBJECT]
    if _plain_event(obj):  # the common shape, checked in one expression (this runs for every event)
        properties = obj.get("properties")
        return [] if properties is None else properties_problems(properties)
    errors = _common_problems(obj, check_contact=True)
    if "name" not in obj:
        errors.append("'name' is required")
    elif not (is_short_string(obj["name"]) and obj["name"]):
        errors.append(f"'name' must be a non-empty string of at most {MAX_STRING_CHARS} characters")
    return _tail_problems(obj, errors)


def validate_purchase_object(obj: dict[str, Any]) -> list[str]:
    """Braze's error texts for one purchase object (empty list: valid)."""
    if type(obj) is not dict:
        return [NOT_AN_OBJECT]
    errors = _common_problems(obj, check_contact=True)
    if "product_id" not in obj:
        errors.append("'product_id' is required")
    elif not (is_short_string(obj["product_id"]) and obj["product_id"]):
        errors.append(f"'product_id' must be a non-empty string of at most {MAX_STRING_CHARS} characters")
    if "currency" not in obj:
        errors.append("'currency' is required")
    elif not is_currency(obj["currency"]):
        errors.append("'currency' must be an ISO-4217 currency code")
    if "price" not in obj:
        errors.append("'price' is required")
    elif not is_number(obj["price"]):
        errors.append("'price' must be a number")
    if "quantity" in obj:
        quantity = obj["quantity"]
        if type(quantity) is not int or not 1 <= quantity <= 100:
            errors.append("'quantity' must be an integer from 1 to 100")
    return _tail_problems(obj, errors)


# --- request level -------------------------------------------------------------------------------


class RequestRejected(Exception):
    """A fatal error: nothing in the request is processed. ``status`` and ``message`` are Braze's answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


ARRAYS = ("attributes", "events", "purchases")


def bearer_key(header: str | None) -> str | None:
    """The key of ``Authorization: Bearer <key>``; None when missing, malformed or wrapped in quotes."""
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or key[0] in "\"'" or key[-1] in "\"'":
        return None
    return key


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, else 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, "Bad Request: the body is not valid JSON") from exc
    if type(body) is not dict:
        raise RequestRejected(400, "Bad Request: the body must be a JSON object")
    return body


def object_arrays(body: dict[str, Any], mode: ObjectLimitMode, max_objects: int) -> tuple[list[Any], ...]:
    """``(attributes, events, purchases)``; 400 when an array is malformed, absent, or too long."""
    arrays: list[list[Any]] = []
    for name in ARRAYS:
        value = body.get(name)
        if value is None:
            arrays.append([])
        elif type(value) is not list:
            raise RequestRejected(400, f"Bad Request: '{name}' must be an array")
        else:
            arrays.append(value)
    counts = [len(a) for a in arrays]
    if not any(counts):
        raise RequestRejected(400, "Bad Request: no 'attributes', 'events' or 'purchases' to process")
    if mode is ObjectLimitMode.COMBINED and sum(counts) > max_objects:
        raise RequestRejected(
            400, f"Max Input Length Exceeded: too many objects ({sum(counts)} in all, at most {max_objects})"
        )
    if mode is ObjectLimitMode.PER_ARRAY:
        for name, count in zip(ARRAYS, counts, strict=True):
            if count > max_objects:
                raise RequestRejected(
                    400, f"Max Input Length Exceeded: too many objects ({count} {name}, at most {max_objects})"
                )
    return tuple(arrays)
