"""Custom attribute values and event/purchase properties (reference: "Custom attributes", "Event
objects"). Texts name keys, never values; long keys are shortened in the text."""

from __future__ import annotations

from typing import Any

import orjson

from braze_sim.formats import MAX_STRING_CHARS, is_iso_datetime

MAX_PROPERTIES_BYTES = 100 * 1024
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})
ARRAY_OPERATIONS = frozenset({"add", "remove"})
#: Braze's array-of-objects operations: valid for Braze, but the simulator does not model them
UNSIMULATED_OPERATIONS = frozenset({"$add", "$remove", "$update"})
_SCALARS = (str, int, float, bool)


def _shown(key: str) -> str:
    return key if len(key) <= 40 else key[:40] + "..."


def _element_problem(key: str, element: object) -> str | None:
    if isinstance(element, str):
        if len(element) <= MAX_STRING_CHARS:
            return None
        return f"custom attribute '{_shown(key)}' has a string longer than {MAX_STRING_CHARS} characters"
    if isinstance(element, int | float):  # booleans are ints too: allowed
        return None
    if isinstance(element, dict):
        return _nested_problem(key, element)
    return f"custom attribute '{_shown(key)}' arrays hold strings, numbers, booleans or objects"


def _array_problem(key: str, values: list[Any]) -> str | None:
    for element in values:
        problem = _element_problem(key, element)
        if problem is not None:
            return problem
    return None


def _nested_problem(key: str, value: dict[str, Any]) -> str | None:
    """A nested custom attribute: keys without ``.`` or ``$``; dates as ``{"$time": "..."}``."""
    for nested_key, nested in value.items():
        if "." in nested_key or "$" in nested_key:
            return f"nested keys of custom attribute '{_shown(key)}' must not contain '.' or '$'"
        if type(nested) is dict:
            if set(nested) == {"$time"}:
                if not is_iso_datetime(nested["$time"]):
                    return f"'$time' in custom attribute '{_shown(key)}' must be an ISO-8601 datetime"
                continue
            problem = _nested_problem(key, nested)
        elif type(nested) is list:
            problem = _array_problem(key, nested)
        elif nested is None:
            problem = None
        elif isinstance(nested, _SCALARS):
            problem = _element_problem(key, nested)
        else:
            problem = f"custom attribute '{_shown(key)}' has an unsupported value"
        if problem is not None:
            return problem
    return None


def _object_value_problem(key: str, value: dict[str, Any]) -> str | None:
    keys = value.keys()
    if keys and keys <= ARRAY_OPERATIONS:
        for operation, operand in value.items():
            if type(operand) is not list:
                return f"'{operation}' of custom attribute '{_shown(key)}' must be an array"
            problem = _array_problem(key, operand)
            if problem is not None:
                return problem
        return None
    if "inc" in keys and len(keys) == 1:
        return None if type(value["inc"]) is int else f"'inc' of custom attribute '{_shown(key)}' must be an integer"
    if keys & UNSIMULATED_OPERATIONS:
        return f"custom attribute '{_shown(key)}': array-of-objects operations are not simulated"
    if set(keys) == {"$time"}:
        return None if is_iso_datetime(value["$time"]) else f"'$time' of '{_shown(key)}' must be an ISO-8601 datetime"
    return _nested_problem(key, value)


def custom_attribute_problem(key: str, value: object) -> str | None:
    """The problem with one custom attribute (key and value), or None."""
    if len(key) > MAX_STRING_CHARS:
        return f"custom attribute key '{_shown(key)}' is longer than {MAX_STRING_CHARS} characters"
    if key.startswith("$"):
        return f"custom attribute key '{_shown(key)}' must not start with '$'"
    if isinstance(value, str):
        if len(value) <= MAX_STRING_CHARS:
            return None
        return f"custom attribute '{_shown(key)}' is longer than {MAX_STRING_CHARS} characters"
    if value is None or isinstance(value, int | float):
        return None
    if isinstance(value, list):
        return _array_problem(key, value)
    if isinstance(value, dict):
        return _object_value_problem(key, value)
    return f"custom attribute '{_shown(key)}' has an unsupported value"


#: property key sets already found valid: events of one sender repeat a few (bounded, like the scans)
_GOOD_PROPERTY_KEYS: set[tuple[str, ...]] = set()
_MAX_GOOD_PROPERTY_KEYS = 2_000


def _plain_properties(properties: dict[str, Any]) -> bool:
    """Keys seen valid before and only short scalar values: nothing to report (the common case)."""
    if tuple(properties) not in _GOOD_PROPERTY_KEYS:
        return False
    for value in properties.values():
        kind = type(value)
        if (kind is str and len(value) > MAX_STRING_CHARS) or kind is list or kind is dict:
            return False
    return True


def properties_problems(properties: object) -> list[str]:
    """The problems of an event or purchase ``properties`` object."""
    if type(properties) is not dict:
        return ["'properties' must be an object"]
    if _plain_properties(properties):
        return []
    errors: list[str] = []
    structured = False
    keys_valid = True
    for key, value in properties.items():
        if not key or len(key) > MAX_STRING_CHARS:
            errors.append(f"property keys must be non-empty strings of at most {MAX_STRING_CHARS} characters")
            keys_valid = False
        elif key[0] == "$":
            errors.append(f"property key '{_shown(key)}' must not start with '$'")
            keys_valid = False
        elif key in RESERVED_PROPERTY_KEYS:
            errors.append(f"property key '{key}' is reserved")
            keys_valid = False
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                errors.append(f"property '{_shown(key)}' is longer than {MAX_STRING_CHARS} characters")
        elif isinstance(value, list | dict):
            structured = True
    if structured and len(orjson.dumps(properties)) > MAX_PROPERTIES_BYTES:
        errors.append("properties with arrays or objects must be at most 100 KB")
    if keys_valid and len(_GOOD_PROPERTY_KEYS) < _MAX_GOOD_PROPERTY_KEYS:
        _GOOD_PROPERTY_KEYS.add(tuple(properties))
    return errors
