"""Each object rule of the reference, accepted and rejected, on Braze's documented examples."""

from __future__ import annotations

from typing import Any

import pytest

from braze_sim.config import ObjectLimitMode
from braze_sim.standard import BAD_EMAIL
from braze_sim.validation import (
    BAD_ALIAS,
    BAD_PHONE,
    MISSING_IDENTIFIER,
    SEVERAL_IDENTIFIERS,
    RequestRejected,
    bearer_key,
    object_arrays,
    parse_body,
    validate_attribute_object,
    validate_event_object,
    validate_purchase_object,
)
from tests.braze_sim import examples

DOCUMENTED_ATTRIBUTES = [
    *examples.TRACK_BY_EMAIL["attributes"],
    *examples.TRACK_BY_PHONE["attributes"],
    *examples.TRACK_SUBSCRIPTION_GROUPS["attributes"],
    *examples.TRACK_ALIAS_ONLY["attributes"],
    *examples.USER_ATTRIBUTES_EXAMPLE,
]
DOCUMENTED_EVENTS = [*examples.TRACK_BY_EMAIL["events"], *examples.EVENTS_EXAMPLE]
DOCUMENTED_PURCHASES = [*examples.TRACK_BY_EMAIL["purchases"], *examples.PURCHASES_EXAMPLE]


@pytest.mark.parametrize("obj", DOCUMENTED_ATTRIBUTES)
def test_every_documented_attribute_object_is_valid(obj: dict[str, Any]) -> None:
    assert validate_attribute_object(obj) == []


@pytest.mark.parametrize("obj", DOCUMENTED_EVENTS)
def test_every_documented_event_object_is_valid(obj: dict[str, Any]) -> None:
    assert validate_event_object(obj) == []


@pytest.mark.parametrize("obj", DOCUMENTED_PURCHASES)
def test_every_documented_purchase_object_is_valid(obj: dict[str, Any]) -> None:
    assert validate_purchase_object(obj) == []


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        ({"first_name": "Jon"}, MISSING_IDENTIFIER),
        ({"external_id": "u1", "braze_id": "b1"}, SEVERAL_IDENTIFIERS),
        ({"external_id": "u1", "user_alias": {"alias_name": "n", "alias_label": "l"}}, SEVERAL_IDENTIFIERS),
        ({"user_alias": {"alias_name": "n"}}, BAD_ALIAS),
        ({"external_id": ""}, "'external_id' must be a non-empty string"),
        ({"external_id": 42}, "'external_id' must be a non-empty string"),
        ({"phone": "0412 345 678"}, BAD_PHONE),  # no country code: not a valid identifier
        ({"external_id": "u1", "_update_existing_only": "yes"}, "'_update_existing_only' must be a boolean"),
    ],
)
def test_identifier_rules(obj: dict[str, Any], error: str) -> None:
    assert validate_attribute_object(obj) == [error]


def test_email_identifies_and_must_be_an_address() -> None:
    assert validate_attribute_object({"email": "jane@example.com", "first_name": "Jane"}) == []
    assert validate_attribute_object({"email": "jane-at-example.com"}) == [BAD_EMAIL]
    assert validate_event_object({"email": "nope", "name": "e", "time": "2024-01-01T00:00:00Z"}) == [BAD_EMAIL]


def test_an_email_under_an_internationalised_top_level_domain_in_ascii_form_is_an_address() -> None:
    assert validate_attribute_object({"email": "0@a.xn--11b4c3d"}) == []
    assert validate_attribute_object({"email": "jane@example.xn--p1ai"}) == []
    assert validate_attribute_object({"email": "jane@example.xn--"}) == [BAD_EMAIL]


def test_email_wins_over_phone_as_identifier_so_an_odd_phone_is_just_an_attribute() -> None:
    assert validate_attribute_object({"email": "jane@example.com", "phone": "0412 345 678"}) == []


@pytest.mark.parametrize(
    ("attribute", "value", "error"),
    [
        ("dob", "14/02/1988", "'dob' must be a date as 'YYYY-MM-DD'"),
        ("dob", "1988-02-30", "'dob' must be a date as 'YYYY-MM-DD'"),
        ("gender", "male", "'gender' must be one of M, F, O, N, P or null"),
        ("email_subscribe", "yes", "'email_subscribe' must be one of opted_in, subscribed, unsubscribed or null"),
        ("push_subscribe", True, "'push_subscribe' must be one of opted_in, subscribed, unsubscribed or null"),
        ("language", "english", "'language' must be an ISO-639-1 code"),
        ("first_name", "x" * 256, "'first_name' must be a string of at most 255 characters"),
        ("email", "not-an-address", BAD_EMAIL),
        (
            "subscription_groups",
            [{"subscription_group_id": "g1", "subscription_state": "opted_in"}],
            "'subscription_groups' must be a list of {subscription_group_id, subscription_state}",
        ),
    ],
)
def test_standard_attribute_formats(attribute: str, value: Any, error: str) -> None:
    assert validate_attribute_object({"external_id": "u1", attribute: value}) == [error]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("dob", "1988-02-14"),
        ("gender", "F"),
        ("gender", None),
        ("country", "Australia"),  # Braze guesses other spellings, and nulls unknown ones: never an error
        ("country", "Narnia"),
        ("time_zone", "Not/AZone"),  # only valid zones are set, the object is still accepted
        ("language", "en"),
        ("email_subscribe", "opted_in"),
        ("first_name", None),  # null removes
    ],
)
def test_standard_attribute_values_braze_takes(attribute: str, value: Any) -> None:
    assert validate_attribute_object({"external_id": "u1", attribute: value}) == []


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("k" * 256, 1, f"custom attribute key '{'k' * 40}...' is longer than 255 characters"),
        ("$score", 1, "custom attribute key '$score' must not start with '$'"),
        ("bio", "x" * 256, "custom attribute 'bio' is longer than 255 characters"),
        ("visits", {"inc": 1.5}, "'inc' of custom attribute 'visits' must be an integer"),
        ("tags", {"add": "one"}, "'add' of custom attribute 'tags' must be an array"),
        ("tags", [["nested"]], "custom attribute 'tags' arrays hold strings, numbers, booleans or objects"),
        ("tags", ["x" * 256], "custom attribute 'tags' has a string longer than 255 characters"),
        ("pet", {"na.me": "Rex"}, "nested keys of custom attribute 'pet' must not contain '.' or '$'"),
        ("pet", {"born": {"$time": "yesterday"}}, "'$time' in custom attribute 'pet' must be an ISO-8601 datetime"),
    ],
)
def test_custom_attribute_rules(key: str, value: Any, error: str) -> None:
    assert validate_attribute_object({"external_id": "u1", key: value}) == [error]


@pytest.mark.parametrize(
    "value",
    ["fruit", 25, 1.5, True, None, ["a", "b"], {"add": ["a"], "remove": ["b"]}, {"inc": -2},
     {"born": {"$time": "2020-01-01T00:00:00Z"}, "name": "Rex"}, "2024-05-01T10:00:00Z"],
)  # fmt: skip
def test_custom_attribute_values_braze_takes(value: Any) -> None:
    assert validate_attribute_object({"external_id": "u1", "custom": value}) == []


def test_errors_name_fields_never_values() -> None:
    secret = "jane.doe.private@"
    errors = validate_attribute_object({"external_id": "u1", "email": secret, "bio": secret * 20})
    assert errors
    assert all(secret not in error for error in errors)


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        ({"external_id": "u1", "time": "2024-01-01T00:00:00Z"}, "'name' is required"),
        ({"external_id": "u1", "name": "", "time": "2024-01-01T00:00:00Z"},
         "'name' must be a non-empty string of at most 255 characters"),
        ({"external_id": "u1", "name": "e"}, "'time' is required"),
        ({"external_id": "u1", "name": "e", "time": "yesterday"}, "'time' must be an ISO-8601 datetime"),
        ({"external_id": "u1", "name": "e", "time": 1700000000}, "'time' must be an ISO-8601 datetime"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": []}, "'properties' must be an object"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"time": 1}},
         "property key 'time' is reserved"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"event_name": 1}},
         "property key 'event_name' is reserved"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"$x": 1}},
         "property key '$x' must not start with '$'"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"": 1}},
         "property keys must be non-empty strings of at most 255 characters"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"p": "x" * 256}},
         "property 'p' is longer than 255 characters"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"big": ["x" * 200] * 600}},
         "properties with arrays or objects must be at most 100 KB"),
        ({"external_id": "u1", "name": "e", "time": "2024-01-01", "app_id": 5}, "'app_id' must be a string"),
    ],
)  # fmt: skip
def test_event_rules(obj: dict[str, Any], error: str) -> None:
    assert validate_event_object(obj) == [error]


def test_event_times_in_braze_formats() -> None:
    for time in ("2013-07-16T19:20:30+01:00", "2013-07-16T19:20:30+1:00", "2017-05-12T18:47:12Z",
                 "2017-05-12T18:47:12:123Z", "2017-05-12T18:47:12.123+0000", "2017-05-12"):  # fmt: skip
        assert validate_event_object({"external_id": "u", "name": "e", "time": time}) == [], time
    assert validate_event_object({"external_id": "u", "name": "e", "time": "2017-13-12T00:00:00Z"})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"product_id": None}, "'product_id' must be a non-empty string of at most 255 characters"),
        ({"currency": "XYZ"}, "'currency' must be an ISO-4217 currency code"),
        ({"price": "12.12"}, "'price' must be a number"),
        ({"price": True}, "'price' must be a number"),
        ({"quantity": 101}, "'quantity' must be an integer from 1 to 100"),
        ({"quantity": 0}, "'quantity' must be an integer from 1 to 100"),
        ({"time": "soon"}, "'time' must be an ISO-8601 datetime"),
    ],
)
def test_purchase_rules(changes: dict[str, Any], error: str) -> None:
    purchase = {**examples.PURCHASES_EXAMPLE[0], **changes}
    assert validate_purchase_object(purchase) == [error]


def test_purchase_required_fields() -> None:
    assert validate_purchase_object({"external_id": "u1"}) == [
        "'product_id' is required",
        "'currency' is required",
        "'price' is required",
        "'time' is required",
    ]


def test_an_object_that_is_not_an_object() -> None:
    assert validate_attribute_object([1, 2]) == ["object must be a JSON object"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer abc-123", "abc-123"),
        ("bearer abc-123", "abc-123"),
        ('Bearer "abc-123"', None),  # a key wrapped in quotes is a 401 at Braze
        ("Bearer 'abc-123'", None),
        ("Basic abc-123", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_key(header: str | None, key: str | None) -> None:
    assert bearer_key(header) == key


def test_request_level_checks() -> None:
    with pytest.raises(RequestRejected) as not_json:
        parse_body(b"{nope")
    assert not_json.value.status == 400
    with pytest.raises(RequestRejected):
        parse_body(b"[1, 2]")
    with pytest.raises(RequestRejected, match="'events' must be an array"):
        object_arrays({"events": {}}, ObjectLimitMode.COMBINED, 75)
    with pytest.raises(RequestRejected, match="too many objects"):
        object_arrays({"attributes": [{}] * 40, "events": [{}] * 36}, ObjectLimitMode.COMBINED, 75)
    assert [
        len(a) for a in object_arrays({"attributes": [{}] * 75, "events": [{}] * 75}, ObjectLimitMode.PER_ARRAY, 75)
    ] == [75, 75, 0]
    with pytest.raises(RequestRejected, match="too many objects"):
        object_arrays({"purchases": [{}] * 76}, ObjectLimitMode.PER_ARRAY, 75)


def test_known_property_keys_still_have_their_values_checked() -> None:
    event = {"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": {"card": "c1", "score": 3}}
    assert validate_event_object(event) == []
    assert validate_event_object(event) == []  # the key set is known now
    long_value = {**event, "properties": {"card": "x" * 256, "score": 3}}
    assert validate_event_object(long_value) == ["property 'card' is longer than 255 characters"]
    too_big = {**event, "properties": {"card": ["x" * 200] * 600, "score": 3}}
    assert validate_event_object(too_big) == ["properties with arrays or objects must be at most 100 KB"]
