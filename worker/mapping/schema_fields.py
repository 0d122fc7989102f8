"""Reading a hub's ``attributes``, ``constants`` and ``event`` sections into checked specs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from komo_braze.envelope import format_time
from worker.mapping.convert_consent import SUBSCRIBE_ATTRIBUTES, SUBSCRIPTION_STATES
from worker.mapping.convert_text import MAX_TEXT, Converter, ValueRejected
from worker.mapping.field_types import RESERVED_ATTRIBUTES, STANDARD_TYPES, TYPES, FieldContext
from worker.mapping.reading import check_braze_name, check_keys, expect_map, expect_text
from worker.mapping.source import Node, Problem

RESERVED_PROPERTIES = frozenset({"time", "event_name"})
NOT_FOR_PROPERTIES = frozenset({"subscription", "subscription_group"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One Komo field and the Braze attribute (or event property) it sets."""

    field: str  # the Komo field
    name: str  # the Braze attribute or property
    type: str
    convert: Converter
    line: int
    #: what must be unique in a hub: the name, or ``subscription_groups:<id>`` for a group
    key: str


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    properties: tuple[FieldSpec, ...]


def read_attributes(node: Node, region: str | None) -> tuple[FieldSpec, ...]:
    specs: dict[str, FieldSpec] = {}
    for field, value in expect_map(node, "attributes").items():
        if not field.strip():
            raise Problem(node.key_lines[field], "a Komo field name must not be empty")
        spec = read_field(field, value, node.key_lines[field], region, for_event=False)
        if spec.key in specs:
            first = specs[spec.key]
            raise Problem(spec.line, f"fields {first.field!r} (line {first.line}) and {field!r} both set {spec.name!r}")
        specs[spec.key] = spec
    return tuple(specs.values())


def read_field(field: str, node: Node, key_line: int, region: str | None, *, for_event: bool) -> FieldSpec:
    """``field: name`` or ``field: {to: name, type: T, ...options}``."""
    what = f"property {field!r}" if for_event else f"attribute {field!r}"
    if node.kind == "map":
        entries = expect_map(node, what)
        to_node = entries.get("to")
        name = expect_text(to_node, "to") if to_node else field
        line = to_node.line if to_node else node.line
        type_node = entries.get("type")
        type_name = expect_text(type_node, "type") if type_node else None
        if type_name is not None and type_name not in TYPES:
            assert type_node is not None
            raise Problem(type_node.line, f"unknown type {type_name!r} (types: {', '.join(TYPES)})")
        implied = type_name or (None if for_event else STANDARD_TYPES.get(name)) or "string"
        check_keys(node, what, ("to", "type", *TYPES[implied].options), TYPES[implied].required)
        options = {key: value for key, value in entries.items() if key not in ("to", "type")}
    else:
        type_name, options, to_node = None, {}, None
        name, line = expect_text(node, what), node.line
    if for_event:
        return _property(field, name, type_name or "string", options, line, region)
    if type_name == "subscription_group":
        if to_node is not None:
            raise Problem(to_node.line, "a subscription_group field adds to subscription_groups: it takes no 'to'")
        convert = TYPES[type_name].build(options, FieldContext("subscription_groups", region))
        group_id = expect_text(options["group_id"], "group_id")
        return FieldSpec(field, "subscription_groups", type_name, convert, key_line, f"subscription_groups:{group_id}")
    check_braze_name(name, line, "attribute name")
    if name in RESERVED_ATTRIBUTES:
        raise Problem(line, f"{name!r} is not an attribute a field may set (it identifies or steers the object)")
    standard = STANDARD_TYPES.get(name)
    type_name = type_name or standard or "string"
    if standard is not None and type_name != standard:
        raise Problem(line, f"Braze's {name!r} takes type {standard}, not {type_name}")
    if type_name == "subscription" and name not in SUBSCRIBE_ATTRIBUTES:
        raise Problem(line, "type subscription sets email_subscribe or push_subscribe; a group is a subscription_group")
    convert = TYPES[type_name].build(options, FieldContext(name, region))
    return FieldSpec(field, name, type_name, convert, line, name)


def _property(
    field: str, name: str, type_name: str, options: dict[str, Node], line: int, region: str | None
) -> FieldSpec:
    check_braze_name(name, line, "property name")
    if name in RESERVED_PROPERTIES:
        raise Problem(line, f"{name!r} is reserved by Braze in event properties")
    if type_name in NOT_FOR_PROPERTIES:
        raise Problem(line, f"type {type_name} sets a profile's consent; it cannot be an event property")
    if type_name == "list" and "mode" in options and options["mode"].text == "add":
        raise Problem(options["mode"].line, "an event property holds a value: mode add is for attributes")
    convert = TYPES[type_name].build(options, FieldContext(name, region))
    return FieldSpec(field, name, type_name, convert, line, name)


def read_event(node: Node, region: str | None) -> EventSpec:
    entries = check_keys(node, "event", ("name", "properties"), ("name",))
    name = expect_text(entries["name"], "event name")
    check_braze_name(name, entries["name"].line, "event name")
    properties: dict[str, FieldSpec] = {}
    listed = entries.get("properties")
    if listed is not None:
        pairs: list[tuple[str, Node, int]]
        if listed.kind == "list":
            pairs = [(expect_text(item, "a property's field"), item, item.line) for item in listed.items()]
        elif listed.kind == "map":
            pairs = [(field, value, listed.key_lines[field]) for field, value in listed.entries().items()]
        else:
            raise Problem(listed.line, "properties must be a list of Komo fields or a map of field to property")
        for field, value, key_line in pairs:
            spec = read_field(field, value, key_line, region, for_event=True)
            if spec.key in properties:
                raise Problem(spec.line, f"two fields set the property {spec.name!r}")
            properties[spec.key] = spec
    return EventSpec(name, tuple(properties.values()))


def read_constants(node: Node, region: str | None) -> dict[str, tuple[Any, int]]:
    """Attribute name -> (value, line). A standard attribute's constant is converted like a field."""
    constants: dict[str, tuple[Any, int]] = {}
    for name, value in expect_map(node, "constants").items():
        line = node.key_lines[name]
        check_braze_name(name, line, "attribute name")
        if name in RESERVED_ATTRIBUTES or name in ("email", "phone"):
            raise Problem(line, f"{name!r} cannot be a constant: every submission would be the same user")
        constants[name] = (_constant(name, value, region), line)
    return constants


def _constant(name: str, node: Node, region: str | None) -> Any:
    standard = STANDARD_TYPES.get(name)
    if standard == "subscription":
        state = expect_text(node, f"constant {name!r}")
        if state not in SUBSCRIPTION_STATES:
            raise Problem(node.line, f"{name} must be one of {', '.join(sorted(SUBSCRIPTION_STATES))}")
        return state
    if standard is not None:
        try:
            return TYPES[standard].build({}, FieldContext(name, region))(expect_text(node, f"constant {name!r}"))
        except ValueRejected as rejected:
            raise Problem(node.line, f"constant {name!r}: {rejected.reason}") from rejected
    if node.kind == "list":
        return [_scalar_constant(name, item) for item in node.items()]
    return _scalar_constant(name, node)


def _scalar_constant(name: str, node: Node) -> Any:
    value = node.value
    if node.kind != "scalar" or value is None:
        raise Problem(node.line, f"constant {name!r} must be text, a number, true/false, a date or a list of those")
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise Problem(node.line, f"constant {name!r} must be a finite number")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise Problem(node.line, f"constant {name!r} is longer than {MAX_TEXT} characters")
    return value
