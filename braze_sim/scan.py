"""A faster :func:`braze_sim.validation.scan_attribute_object`: the same rules, compiled per shape.

Attribute objects from one sender come in a few shapes (the same keys in the same order). For each
shape a small function is generated once that checks and sorts exactly those keys, without the
per-key look-ups of the generic scan. The generic scan stays the reference: a property test holds
the two to the same answers. Keys reach the generated code only through a tuple of constants, never
as source text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from braze_sim.formats import MAX_STRING_CHARS, SUBSCRIBE_STATES, country_code, is_dob, is_email
from braze_sim.properties import custom_attribute_problem
from braze_sim.standard import PLAIN_STANDARD, STANDARD_ATTRIBUTES
from braze_sim.validation import (
    CONTROL_KEYS,
    ID_KEYS,
    SEVERAL_IDENTIFIERS,
    identifier_problem,
    scan_attribute_object,
)

Scan = Callable[[dict[str, Any]], tuple[list[str], dict[str, Any], list[str]]]

_MAX_SHAPES = 2_000
_SCANNERS: dict[tuple[str, ...], Scan] = {}
_STRING_FIELDS = frozenset({"first_name", "last_name", "home_city"})


def _all_short_strings(values: list[Any]) -> bool:
    for value in values:  # noqa: SIM110  (a loop is faster than all() over a generator, and this is hot)
        if type(value) is not str or len(value) > MAX_STRING_CHARS:
            return False
    return True


def _identifier_lines(keys: tuple[str, ...]) -> list[str]:
    present = [key for key in ID_KEYS if key in keys]
    lines: list[str] = []
    if len(present) > 1:
        lines.append("errors.append(SEVERAL)")
    elif present == ["external_id"]:
        index = keys.index("external_id")
        lines += [
            f"v = obj[k{index}]",
            "if not (type(v) is str and v):",
            "    errors.append(EXTERNAL_ID_MESSAGE)",
        ]
    else:
        lines += ["p = identifier_problem(obj, check_contact=False)", "if p is not None:", "    errors.append(p)"]
    for flag, message in (("_update_existing_only", "UPDATE_ONLY_MESSAGE"), ("_merge_objects", "MERGE_MESSAGE")):
        if flag in keys:
            lines += [f"if type(obj[k{keys.index(flag)}]) is not bool:", f"    errors.append({message})"]
    return lines


def _key_lines(index: int, key: str) -> list[str]:
    k = f"k{index}"
    get = f"v = obj[{k}]"
    if key in CONTROL_KEYS:
        return []
    if key in _STRING_FIELDS:
        test = f"type(v) is str and len(v) <= {MAX_STRING_CHARS}"
    elif key == "dob":
        test = "is_dob(v)"
    elif key in ("email_subscribe", "push_subscribe"):
        test = "type(v) is str and v in SUBSCRIBE"
    elif key == "country":
        return [
            get,
            "if type(v) is str and (c := country_code(v)) is not None:",
            f"    plain[{k}] = c",
            "elif v is None or type(v) is str:",
            f"    special.append({k})",
            "else:",
            f"    errors.append(c{index}(v))",
        ]
    elif key in ("email", "time_zone"):  # set through the profile's index, or only when valid
        fits = "is_email(v)" if key == "email" else "True"
        return [
            get,
            f"if v is None or (type(v) is str and {fits}):",
            f"    special.append({k})",
            "else:",
            f"    errors.append(c{index}(v))",
        ]
    elif key in STANDARD_ATTRIBUTES:
        return [
            get,
            f"p = c{index}(v)",
            "if p is None:",
            f"    special.append({k})",
            "else:",
            "    errors.append(p)",
        ]
    elif len(key) > MAX_STRING_CHARS or key[:1] == "$":
        return [f"errors.append(custom_problem({k}, obj[{k}]))"]
    else:
        return [
            get,
            "t = type(v)",
            f"if (t is str and len(v) <= {MAX_STRING_CHARS}) or t is int or t is float or t is bool:",
            f"    plain[{k}] = v",
            "elif t is dict and len(v) == 1 and type(v.get('add')) is list and all_short_strings(v['add']):",
            f"    special.append({k})",
            "else:",
            f"    p = custom_problem({k}, v)",
            "    if p is None:",
            f"        special.append({k})",
            "    else:",
            "        errors.append(p)",
        ]
    assert key in PLAIN_STANDARD
    return [
        get,
        f"if {test}:",
        f"    plain[{k}] = v",
        "elif v is None:",
        f"    special.append({k})",
        "else:",
        f"    errors.append(c{index}(v))",
    ]


def compile_scanner(keys: tuple[str, ...]) -> Scan:
    """The scan of attribute objects whose keys are ``keys``, in that order."""
    body = ["errors = []", "plain = {}", "special = []", *_identifier_lines(keys)]
    for index, key in enumerate(keys):
        body += _key_lines(index, key)
    body.append("return errors, plain, special")
    constants = "".join(f", k{i}=K[{i}], c{i}=CHECKS[{i}]" for i in range(len(keys)))
    source = f"def scan(obj{constants}):\n" + "\n".join(f"    {line}" for line in body) + "\n"
    namespace: dict[str, Any] = {
        "K": keys,
        "CHECKS": tuple(STANDARD_ATTRIBUTES.get(key) for key in keys),
        "SEVERAL": SEVERAL_IDENTIFIERS,
        "EXTERNAL_ID_MESSAGE": "'external_id' must be a non-empty string",
        "UPDATE_ONLY_MESSAGE": "'_update_existing_only' must be a boolean",
        "MERGE_MESSAGE": "'_merge_objects' must be a boolean",
        "SUBSCRIBE": SUBSCRIBE_STATES,
        "is_dob": is_dob,
        "is_email": is_email,
        "country_code": country_code,
        "all_short_strings": _all_short_strings,
        "custom_problem": custom_attribute_problem,
        "identifier_problem": identifier_problem,
    }
    exec(compile(source, f"<braze_sim scan of {len(keys)} keys>", "exec"), namespace)  # noqa: S102
    scanner: Scan = namespace["scan"]
    return scanner


def fast_scan(obj: dict[str, Any]) -> tuple[list[str], dict[str, Any], list[str]]:
    """Same answer as :func:`scan_attribute_object`, compiled per shape (a few thousand shapes at most)."""
    keys = tuple(obj)
    scanner = _SCANNERS.get(keys)
    if scanner is None:
        if len(_SCANNERS) >= _MAX_SHAPES:
            return scan_attribute_object(obj)
        scanner = _SCANNERS[keys] = compile_scanner(keys)
    return scanner(obj)
