"""One hub's compiled mapper: a checked :class:`HubSpec` turned into tuples of converters, run per message.

Nothing here interprets the mapping file: every decision that does not depend on the submission was
made at load time, so mapping one envelope is a few dictionary look-ups and one call per named field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from komo_braze.envelope import Envelope, format_time
from worker.mapping.convert_text import SKIP, Converter, ValueRejected
from worker.mapping.convert_time import komo_time
from worker.mapping.model import (
    IdentifierKind,
    Mapped,
    MappingErrorKind,
    MappingFailure,
    MapResult,
    RejectedField,
    UserKey,
)
from worker.mapping.schema import HubSpec, IdentifyRule

Identifier = Callable[[], dict[str, Any]]
_KOMO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # 2026-01-01T09:30:00.000Z


def _present(value: Any) -> Any:
    """``None`` for what Komo sends for an empty field (missing, null, blank); stripped text otherwise."""
    if type(value) is str:
        value = value.strip()
        return value or None
    return value


class HubMapper:
    """Maps the envelopes of one hub (or of every hub without an entry, for ``"*"``)."""

    __slots__ = (
        "_constants",
        "_event_name",
        "_fields",
        "_groups",
        "_properties",
        "_rules",
        "_skip_unchanged",
        "_update_existing_only",
        "hub_id",
        "workspace",
    )

    def __init__(self, spec: HubSpec) -> None:
        self.hub_id = spec.hub_id
        self.workspace = spec.workspace
        self._rules: tuple[IdentifyRule, ...] = spec.identify
        self._update_existing_only = spec.update_existing_only
        self._skip_unchanged = spec.skip_unchanged
        fields = [(s.field, s.name, s.convert) for s in spec.attributes if s.type != "subscription_group"]
        groups = [(s.field, s.name, s.convert) for s in spec.attributes if s.type == "subscription_group"]
        self._fields: tuple[tuple[str, str, Converter], ...] = tuple(fields)
        self._groups: tuple[tuple[str, str, Converter], ...] = tuple(groups)
        self._constants: tuple[tuple[str, Any], ...] = tuple(spec.constants.items())
        self._event_name = spec.event.name if spec.event else None
        properties = spec.event.properties if spec.event else ()
        self._properties: tuple[tuple[str, str, Converter], ...] = tuple(
            (p.field, p.name, p.convert) for p in properties
        )

    @property
    def attribute_names(self) -> list[str]:
        """Every name a rejected field of this hub can carry (the ``attribute`` of :class:`RejectedField`)."""
        names = [name for _field, name, _convert in (*self._fields, *self._groups)]
        return names + [f"event.properties.{name}" for _field, name, _convert in self._properties]

    def map(self, envelope: Envelope) -> MapResult:
        payload = envelope.payload
        found = self._identify(payload)
        if isinstance(found, MappingFailure):
            return found
        user, identifier = found
        attributes = identifier()
        if self._update_existing_only or user.kind is IdentifierKind.ALIAS:
            # Braze treats alias-keyed attribute objects as update-only unless told otherwise.
            attributes["_update_existing_only"] = self._update_existing_only
        rejected: list[RejectedField] = []
        for name, value in self._constants:
            attributes[name] = list(value) if type(value) is list else value
        for field, name, convert in self._fields:
            value = payload.get(field)  # _present(), inlined: this runs for every field of every submission
            if value is None:
                continue
            if type(value) is str:
                value = value.strip()
                if not value:
                    continue
            try:
                converted = convert(value)
            except ValueRejected as problem:
                rejected.append(RejectedField(name, problem.reason, field))
                continue
            if converted is not SKIP:
                attributes[name] = converted
        if self._groups:
            entries = self._group_entries(payload, rejected)
            if entries:
                attributes["subscription_groups"] = entries
        timestamp = komo_time(payload.get("timestamp"), envelope.received_at)
        event: dict[str, Any] | None = None
        if self._event_name is not None:
            event = identifier()
            event["name"] = self._event_name
            event["time"] = _event_time(payload.get("timestamp"), timestamp, envelope)
            properties = self._event_properties(envelope, rejected)
            if properties:
                event["properties"] = properties
            if self._update_existing_only:
                event["_update_existing_only"] = True
        return Mapped(self.workspace, user, attributes, event, timestamp, tuple(rejected), self._skip_unchanged)

    def _identify(self, payload: dict[str, Any]) -> tuple[UserKey, Identifier] | MappingFailure:
        """The first rule whose field holds a valid identifier; else why none did (fields named, no values)."""
        invalid: list[str] = []
        for rule in self._rules:
            value = _present(payload.get(rule.field))
            if value is None:
                continue
            try:
                normal = rule.convert(value)
            except ValueRejected as problem:
                invalid.append(f"{rule.field} ({rule.kind.value}): {problem.reason}")
                continue
            return _identity(rule, normal)
        if invalid:
            return MappingFailure(MappingErrorKind.INVALID_IDENTIFIER, "; ".join(invalid))
        fields = ", ".join(dict.fromkeys(rule.field for rule in self._rules))
        return MappingFailure(MappingErrorKind.NO_IDENTIFIER, f"no value in {fields}")

    def _group_entries(self, payload: dict[str, Any], rejected: list[RejectedField]) -> list[dict[str, str]]:
        entries: list[dict[str, str]] = []
        for field, name, convert in self._groups:
            value = _present(payload.get(field))
            if value is None:
                continue
            try:
                entry = convert(value)
            except ValueRejected as problem:
                rejected.append(RejectedField(name, problem.reason, field))
                continue
            if entry is not SKIP:
                entries.append(entry)
        return entries

    def _event_properties(self, envelope: Envelope, rejected: list[RejectedField]) -> dict[str, Any]:
        payload = envelope.payload
        properties: dict[str, Any] = {}
        for field, name, convert in self._properties:
            value = _present(payload.get(field))
            if value is None:
                # what routing already read from the body (Komo's `id` when it had no submission_id)
                if field == "submission_id":
                    value = envelope.submission_id
                elif field == "site_id":
                    value = envelope.hub_id
                else:
                    continue
            try:
                converted = convert(value)
            except ValueRejected as problem:
                rejected.append(RejectedField(f"event.properties.{name}", problem.reason, field))
                continue
            if converted is not SKIP:
                properties[name] = converted
        return properties


def _event_time(stamp: Any, timestamp: datetime, envelope: Envelope) -> str:
    """The event's ``time``: Komo's own text when it already is Braze's form (formatting costs more than
    the rest of the event), else ``timestamp`` formatted. Komo's text counts only if it was read as a time,
    that is if ``timestamp`` is not the fallback ``received_at``."""
    if type(stamp) is str and timestamp is not envelope.received_at and _KOMO_TIME.fullmatch(stamp):
        return stamp
    return format_time(timestamp)


def _identity(rule: IdentifyRule, normal: str) -> tuple[UserKey, Identifier]:
    """The user's key, and a maker of fresh identifier dicts (the attribute and event objects get their own)."""
    kind = rule.kind
    if kind is IdentifierKind.ALIAS:
        label = rule.label or ""
        return UserKey(kind, f"{label}:{normal}"), lambda: {"user_alias": {"alias_name": normal, "alias_label": label}}
    key = kind.value
    return UserKey(kind, normal), lambda: {key: normal}
