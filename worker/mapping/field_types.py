"""The field types a mapping may name, their options, and how each becomes a converter at load time."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Final, NamedTuple

import phonenumbers

from worker.mapping.convert_consent import FALSE_MEANINGS, TRUE_STATES, subscription_converter
from worker.mapping.convert_consent import subscription_group_converter as group_converter
from worker.mapping.convert_contact import phone_converter, to_country, to_email
from worker.mapping.convert_text import (
    GENDER_LETTERS,
    Converter,
    gender_converter,
    list_converter,
    to_boolean,
    to_integer,
    to_number,
    to_string,
)
from worker.mapping.convert_time import date_converter, datetime_converter
from worker.mapping.reading import expect_bool, expect_choice, expect_int, expect_map, expect_text
from worker.mapping.source import Node, Problem

#: Braze's standard profile attributes that take one type only (the reference file's table)
STANDARD_TYPES: Final = {
    "email": "email",
    "phone": "phone",
    "dob": "date",
    "country": "country",
    "gender": "gender",
    "email_subscribe": "subscription",
    "push_subscribe": "subscription",
    "first_name": "string",
    "last_name": "string",
    "home_city": "string",
}
#: keys of an attribute object that identify or steer, so no field may set them
RESERVED_ATTRIBUTES: Final = frozenset(
    {"external_id", "braze_id", "user_alias", "_update_existing_only", "subscription_groups"}
)
LIST_MAX_ITEMS: Final = 25  # Braze's default limit on the length of an array attribute
LIST_MAX_ITEMS_CEILING: Final = 500  # the most Braze can be configured to keep


@dataclass(frozen=True, slots=True)
class FieldContext:
    """What a type's converter may depend on besides its own options."""

    name: str  # the Braze attribute or property it sets
    default_region: str | None  # the hub's, for phone numbers


Builder = Callable[[dict[str, Node], FieldContext], Converter]


def _plain(converter: Converter) -> Builder:
    return lambda options, context: converter


def _date(options: dict[str, Node], context: FieldContext) -> Converter:
    day_first = expect_bool(options["day_first"], "day_first") if "day_first" in options else True
    past_only = expect_bool(options["past_only"], "past_only") if "past_only" in options else context.name == "dob"
    if context.name == "dob" and not past_only:
        raise Problem(options["past_only"].line, "dob is a date of birth: past_only cannot be false")
    return date_converter(day_first=day_first, past_only=past_only)


def _datetime(options: dict[str, Node], context: FieldContext) -> Converter:
    assume: tzinfo = UTC
    if "timezone" in options:
        name = expect_text(options["timezone"], "timezone")
        try:
            assume = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise Problem(
                options["timezone"].line, f"unknown time zone {name!r} (an IANA name, e.g. Australia/Sydney)"
            ) from exc
    return datetime_converter(assume=assume)


def region_of(node: Node) -> str:
    region = expect_text(node, "default_region").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise Problem(node.line, f"default_region {region!r} is not a country code phonenumbers knows (e.g. AU)")
    return region


def _phone(options: dict[str, Node], context: FieldContext) -> Converter:
    region = region_of(options["default_region"]) if "default_region" in options else context.default_region
    return phone_converter(region)


def _gender(options: dict[str, Node], context: FieldContext) -> Converter:
    extra: dict[str, str] = {}
    if "values" in options:
        for word, node in expect_map(options["values"], "values").items():
            letter = expect_text(node, f"the gender for {word!r}").upper()
            if letter not in GENDER_LETTERS:
                raise Problem(node.line, f"a gender must be one of {', '.join(sorted(GENDER_LETTERS))}")
            extra[word] = letter
    return gender_converter(extra)


def _subscription(options: dict[str, Node], context: FieldContext) -> Converter:
    true_means = expect_choice(options["true_means"], "true_means", TRUE_STATES) if "true_means" in options else None
    false_means = (
        expect_choice(options["false_means"], "false_means", FALSE_MEANINGS) if "false_means" in options else None
    )
    return subscription_converter(true_means=true_means or "opted_in", false_means=false_means or "nothing")


def _subscription_group(options: dict[str, Node], context: FieldContext) -> Converter:
    node = options["group_id"]  # required: checked with the other keys
    group_id = expect_text(node, "group_id")
    try:
        uuid.UUID(group_id)
    except ValueError as exc:
        raise Problem(node.line, "group_id must be the subscription group's id (a UUID) from Braze") from exc
    false_means = (
        expect_choice(options["false_means"], "false_means", FALSE_MEANINGS) if "false_means" in options else None
    )
    return group_converter(group_id=group_id, false_means=false_means or "nothing")


def _list(options: dict[str, Node], context: FieldContext) -> Converter:
    mode = expect_choice(options["mode"], "mode", ("set", "add")) if "mode" in options else "set"
    separator = ","
    if "separator" in options:
        node = options["separator"]
        if node.kind != "scalar" or not node.text:
            raise Problem(node.line, "separator must be one or more characters")
        separator = node.text
    max_items = (
        expect_int(options["max_items"], "max_items", low=1, high=LIST_MAX_ITEMS_CEILING)
        if "max_items" in options
        else LIST_MAX_ITEMS
    )
    return list_converter(mode=mode, separator=separator, max_items=max_items)


class FieldType(NamedTuple):
    options: tuple[str, ...]
    build: Builder
    required: tuple[str, ...] = ()


TYPES: Final = {
    "string": FieldType((), _plain(to_string)),
    "number": FieldType((), _plain(to_number)),
    "integer": FieldType((), _plain(to_integer)),
    "boolean": FieldType((), _plain(to_boolean)),
    "date": FieldType(("day_first", "past_only"), _date),
    "datetime": FieldType(("timezone",), _datetime),
    "email": FieldType((), _plain(to_email)),
    "phone": FieldType(("default_region",), _phone),
    "country": FieldType((), _plain(to_country)),
    "gender": FieldType(("values",), _gender),
    "subscription": FieldType(("true_means", "false_means"), _subscription),
    "subscription_group": FieldType(("group_id", "false_means"), _subscription_group, required=("group_id",)),
    "list": FieldType(("mode", "separator", "max_items"), _list),
}
