"""Reading the mapping file: YAML into a tree of :class:`Node` that remembers each value's line.

PyYAML's loader forgets where a value came from, so the document is *composed* (nodes keep their
marks) and each scalar is constructed on its own. A scalar also keeps its source text, so a field that
expects text reads ``NO`` (Norway) as ``"NO"`` rather than YAML 1.1's ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

MAX_DEPTH = 32  # far deeper than any mapping needs; stops a recursive alias from looping


class MappingFileError(Exception):
    """The mapping file cannot be used; the message reads ``<file>:<line>: <what is wrong>``."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}" if line else f"{source}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


class Problem(Exception):
    """What is wrong at one line; :func:`read_yaml`'s callers add the file name."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Node:
    """One YAML value and the line it starts on (1-based)."""

    line: int
    kind: Literal["scalar", "map", "list"]
    #: the constructed value of a scalar, ``dict[str, Node]`` of a map, ``list[Node]`` of a list
    value: Any
    #: a scalar's text as written (without quotes), before YAML typing
    text: str | None = None
    #: for a map: the line of each key
    key_lines: dict[str, int] = field(default_factory=dict)

    def entries(self) -> dict[str, Node]:
        assert self.kind == "map"
        entries: dict[str, Node] = self.value
        return entries

    def items(self) -> list[Node]:
        assert self.kind == "list"
        items: list[Node] = self.value
        return items


def read_yaml(text: str) -> Node | None:
    """Parse one YAML document; ``None`` when it is empty. Raises :class:`Problem`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _problem_of(exc) from exc
    except yaml.YAMLError as exc:
        raise Problem(1, f"not valid YAML: {exc}") from exc
    if root is None:
        return None
    return _Builder().build(root, 0)


def _problem_of(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return Problem(line, f"not valid YAML: {what or 'cannot parse'}")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    def __init__(self) -> None:
        self._constructor = SafeConstructor()

    def build(self, node: yaml.Node, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise Problem(_line(node), "the document nests too deeply")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            return Node(_line(node), "list", [self.build(child, depth + 1) for child in node.value])
        if isinstance(node, MappingNode):
            return self._map(node, depth)
        raise Problem(_line(node), "unsupported YAML node")  # pragma: no cover - the composer makes no other

    def _scalar(self, node: ScalarNode) -> Node:
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _problem_of(exc) from exc
        return Node(_line(node), "scalar", value, text=str(node.value))

    def _map(self, node: MappingNode, depth: int) -> Node:
        own: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node)
            if key in own:
                raise Problem(_line(key_node), f"duplicate key {key!r} (first at line {own[key]})")
            own[key] = _line(key_node)
        try:
            self._constructor.flatten_mapping(node)  # resolves `<<: *anchor` merges, own keys last
        except yaml.MarkedYAMLError as exc:
            raise _problem_of(exc) from exc
        entries: dict[str, Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            entries[key] = self.build(value_node, depth + 1)
            key_lines[key] = _line(key_node)
        return Node(_line(node), "map", entries, key_lines=key_lines)

    @staticmethod
    def _key(node: yaml.Node) -> str:
        if not isinstance(node, ScalarNode):
            raise Problem(_line(node), "a key must be plain text, not a list or a map")
        return str(node.value)
