"""Reading the whole mapping file: workspaces, hubs and how each hub identifies its users.

Everything is checked here, once, with the line of anything wrong; what comes out is plain data that
:mod:`worker.mapping.hub` compiles into fast per-hub mappers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from komo_braze.topology import DEFAULT_WORKSPACE
from worker.mapping.convert_contact import phone_converter, to_email
from worker.mapping.convert_text import MAX_TEXT, Converter, ValueRejected, to_string
from worker.mapping.field_types import region_of
from worker.mapping.model import IdentifierKind
from worker.mapping.reading import check_keys, expect_bool, expect_choice, expect_map, expect_text
from worker.mapping.schema_fields import EventSpec, FieldSpec, read_attributes, read_constants, read_event
from worker.mapping.source import Node, Problem

ANY_HUB: Final = "*"
HUB_KEYS: Final = (
    "identify",
    "update_existing_only",
    "skip_unchanged",
    "default_region",
    "attributes",
    "constants",
    "event",
    "workspace",
)
_WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ROUTING_UNSAFE = re.compile(r"[*#\s]")  # wildcards and separators of AMQP topic bindings


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    """A Braze workspace: its REST endpoint and the *name* of the variable holding its key.

    For ``default`` both are ``None``: they come from ``KOMO_BRAZE_BRAZE_URL`` / ``_API_KEY``.
    """

    name: str
    url: str | None
    api_key_env: str | None


@dataclass(frozen=True, slots=True)
class IdentifyRule:
    kind: IdentifierKind
    field: str
    label: str | None  # an alias's label
    convert: Converter  # the identifier's normal form, or ValueRejected
    line: int


@dataclass(frozen=True, slots=True)
class HubSpec:
    hub_id: str
    workspace: str
    identify: tuple[IdentifyRule, ...]
    update_existing_only: bool
    attributes: tuple[FieldSpec, ...]
    constants: dict[str, Any]
    event: EventSpec | None
    #: attributes equal to what Braze last accepted for the user are not sent again
    skip_unchanged: bool = False


@dataclass(frozen=True, slots=True)
class MappingSpec:
    workspaces: dict[str, WorkspaceSpec]  # the declared ones; ``default`` is never declared
    hubs: dict[str, HubSpec]


def read_mapping(root: Node) -> MappingSpec:
    entries = check_keys(root, "the mapping", ("workspaces", "hubs"), ("hubs",))
    workspaces = read_workspaces(entries["workspaces"]) if "workspaces" in entries else {}
    hubs_node = entries["hubs"]
    hubs: dict[str, HubSpec] = {}
    for hub_id, node in expect_map(hubs_node, "hubs").items():
        line = hubs_node.key_lines[hub_id]
        if not hub_id.strip():
            raise Problem(line, "a hub id (Komo's site_id) must not be empty")
        if hub_id != ANY_HUB and _ROUTING_UNSAFE.search(hub_id):
            raise Problem(line, f"hub id {hub_id[:40]!r} holds '*', '#' or a space, which broker bindings cannot name")
        hubs[hub_id] = read_hub(hub_id, node, workspaces)
    if not hubs:
        raise Problem(hubs_node.line, 'hubs must name at least one hub (or "*" for any hub)')
    return MappingSpec(workspaces, hubs)


def read_workspaces(node: Node) -> dict[str, WorkspaceSpec]:
    workspaces: dict[str, WorkspaceSpec] = {}
    for name, value in expect_map(node, "workspaces").items():
        line = node.key_lines[name]
        if name == DEFAULT_WORKSPACE:
            raise Problem(line, "workspace 'default' comes from KOMO_BRAZE_BRAZE_URL/_API_KEY; it is not declared")
        if not _WORKSPACE_NAME.fullmatch(name):
            raise Problem(line, f"workspace name {name[:40]!r} must be letters, digits, '-' or '_' (at most 63)")
        entries = check_keys(value, f"workspace {name!r}", ("url", "api_key_env"), ("url", "api_key_env"))
        url = expect_text(entries["url"], "url").rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise Problem(
                entries["url"].line, "url must be the workspace's REST endpoint, e.g. https://rest.fra-01.braze.eu"
            )
        api_key_env = expect_text(entries["api_key_env"], "api_key_env")
        if not _ENV_NAME.fullmatch(api_key_env):
            raise Problem(entries["api_key_env"].line, "api_key_env must be the name of an environment variable")
        workspaces[name] = WorkspaceSpec(name, url, api_key_env)
    return workspaces


def read_hub(hub_id: str, node: Node, workspaces: dict[str, WorkspaceSpec]) -> HubSpec:
    what = "hub '*'" if hub_id == ANY_HUB else f"hub {hub_id[:40]!r}"
    entries = check_keys(node, what, HUB_KEYS, ("identify",))
    region = region_of(entries["default_region"]) if "default_region" in entries else None
    workspace = DEFAULT_WORKSPACE
    if "workspace" in entries:
        workspace = expect_text(entries["workspace"], "workspace")
        if workspace != DEFAULT_WORKSPACE and workspace not in workspaces:
            declared = ", ".join(sorted(workspaces)) or "none"
            raise Problem(entries["workspace"].line, f"workspace {workspace!r} is not declared (declared: {declared})")
    attributes = read_attributes(entries["attributes"], region) if "attributes" in entries else ()
    constants = read_constants(entries["constants"], region) if "constants" in entries else {}
    _check_constants(constants, attributes)
    identify = read_identify(entries["identify"], attributes, region)
    _check_contact_identifiers(identify, attributes)
    update_existing_only = (
        expect_bool(entries["update_existing_only"], "update_existing_only")
        if "update_existing_only" in entries
        else False
    )
    event = read_event(entries["event"], region) if "event" in entries else None
    skip_unchanged = expect_bool(entries["skip_unchanged"], "skip_unchanged") if "skip_unchanged" in entries else False
    return HubSpec(
        hub_id=hub_id,
        workspace=workspace,
        identify=identify,
        update_existing_only=update_existing_only,
        attributes=attributes,
        constants={name: value for name, (value, _) in constants.items()},
        event=event,
        skip_unchanged=skip_unchanged,
    )


def _check_constants(constants: dict[str, tuple[Any, int]], attributes: tuple[FieldSpec, ...]) -> None:
    for name, (_, line) in constants.items():
        clash = next((spec for spec in attributes if spec.name == name), None)
        if clash is not None:
            raise Problem(line, f"constant {name!r} is also set by field {clash.field!r} (line {clash.line})")


def _check_contact_identifiers(identify: tuple[IdentifyRule, ...], attributes: tuple[FieldSpec, ...]) -> None:
    """An ``email``/``phone`` attribute identifies the user too, so it must come from the rule's own field."""
    for rule in identify:
        if rule.kind not in (IdentifierKind.EMAIL, IdentifierKind.PHONE):
            continue
        for spec in attributes:
            if spec.name == rule.kind.value and spec.field != rule.field:
                raise Problem(
                    spec.line,
                    f"attribute {spec.name!r} comes from field {spec.field!r}, but line {rule.line} identifies "
                    f"users by the {spec.name} in field {rule.field!r}: Braze would read both as the identifier",
                )


def read_identify(node: Node, attributes: tuple[FieldSpec, ...], region: str | None) -> tuple[IdentifyRule, ...]:
    """One rule, or a list of rules tried in order."""
    nodes = node.items() if node.kind == "list" else [node]
    if not nodes:
        raise Problem(node.line, "identify needs at least one rule")
    return tuple(_rule(item, attributes, region) for item in nodes)


def _rule(node: Node, attributes: tuple[FieldSpec, ...], region: str | None) -> IdentifyRule:
    entries = check_keys(node, "an identify rule", ("by", "field", "label", "type"), ("by", "field"))
    kind = IdentifierKind(expect_choice(entries["by"], "by", [kind.value for kind in IdentifierKind]))
    field = expect_text(entries["field"], "field")
    label: str | None = None
    if kind is IdentifierKind.ALIAS:
        if "label" not in entries:
            raise Problem(node.line, "an alias rule needs a label (Braze's alias_label, e.g. email)")
        label = expect_text(entries["label"], "label")
        if len(label) > MAX_TEXT:
            raise Problem(entries["label"].line, f"label is longer than {MAX_TEXT} characters")
        read_as = next(
            (spec.type for spec in attributes if spec.field == field and spec.type in ("email", "phone")), None
        )
        if "type" in entries:
            read_as = expect_choice(entries["type"], "type", ("string", "email", "phone"))
        convert = _identifier_reader(read_as or "string", region)
    else:
        for key in ("label", "type"):
            if key in entries:
                raise Problem(entries[key].line, f"{key!r} is only for alias rules")
        convert = _identifier_reader(kind.value, region)
    return IdentifyRule(kind, field, label, convert, node.line)


def _identifier_reader(read_as: str, region: str | None) -> Converter:
    if read_as == IdentifierKind.EMAIL:
        return to_email
    if read_as == IdentifierKind.PHONE:
        return phone_converter(region)
    return _identifier_text


def _identifier_text(value: Any) -> str:
    """An external_id, braze_id or alias name: text, at most 255 characters, no inner line breaks."""
    if isinstance(value, bool | float):
        raise ValueRejected("not an identifier")
    text = to_string(value)
    if "\n" in text or "\r" in text:
        raise ValueRejected("holds a line break")
    return text
