"""Small readers for the mapping file's nodes: each checks one shape and names the line when it is wrong."""

from __future__ import annotations

from collections.abc import Iterable

from worker.mapping.convert_text import MAX_TEXT
from worker.mapping.source import Node, Problem


def expect_map(node: Node, what: str) -> dict[str, Node]:
    if node.kind != "map":
        raise Problem(node.line, f"{what} must be a map of keys to values")
    return node.entries()


def check_keys(node: Node, what: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Node]:
    """The map's entries, after checking that every key is known and every required one is there."""
    entries = expect_map(node, what)
    allowed = tuple(allowed)
    for key in entries:
        if key not in allowed:
            raise Problem(node.key_lines[key], f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in entries:
            raise Problem(node.line, f"{what} needs {key!r}")
    return entries


def expect_text(node: Node, what: str) -> str:
    """A non-empty scalar read as the text written (so ``NO`` stays ``"NO"``)."""
    if node.kind != "scalar" or node.value is None or node.text is None:
        raise Problem(node.line, f"{what} must be text")
    text = node.text.strip()
    if not text:
        raise Problem(node.line, f"{what} must not be empty")
    return text


def expect_bool(node: Node, what: str) -> bool:
    if node.kind != "scalar" or not isinstance(node.value, bool):
        raise Problem(node.line, f"{what} must be true or false")
    return node.value


def expect_int(node: Node, what: str, *, low: int, high: int) -> int:
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Problem(node.line, f"{what} must be a whole number from {low} to {high}")
    return value


def expect_choice(node: Node, what: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    text = expect_text(node, what)
    if text not in choices:
        raise Problem(node.line, f"{what} must be one of {', '.join(choices)}, not {text!r}")
    return text


def check_braze_name(name: str, line: int, what: str) -> str:
    """A name Braze accepts for an attribute or a property key: non-empty, at most 255, no leading ``$``."""
    if not name:
        raise Problem(line, f"{what} must not be empty")
    if name.startswith("$"):
        raise Problem(line, f"{what} {name[:40]!r} starts with '$', which Braze refuses")
    if len(name) > MAX_TEXT:
        raise Problem(line, f"{what} {name[:40]!r}... is {len(name)} characters long; Braze allows {MAX_TEXT}")
    return name
