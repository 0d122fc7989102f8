"""A test-only mapper, so the worker's tests do not depend on the mapping's rules.

``customer_id`` identifies the user (external_id); every other non-Komo key of the body becomes an
attribute of the same name; each submission yields one ``komo_form_submitted`` event. A body without
``customer_id`` fails with ``no_identifier``. Hubs in ``hub_workspaces`` go to that workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from komo_braze.envelope import Envelope, parse_time
from worker.mapping.model import (
    IdentifierKind,
    Mapped,
    MappingErrorKind,
    MappingFailure,
    MapResult,
    RejectedField,
    UserKey,
)

KOMO_KEYS = frozenset({"id", "event", "timestamp", "site_id", "submission_id", "customer_id", "bad_field"})


@dataclass(frozen=True)
class Spec:
    name: str
    url: str | None = None
    api_key_env: str | None = None


@dataclass
class SimpleMapper:
    hub_workspaces: Mapping[str, str] = field(default_factory=dict)
    specs: Mapping[str, Spec] = field(default_factory=dict)

    @property
    def workspaces(self) -> Mapping[str, Spec]:
        return {"default": Spec("default"), **self.specs}

    @property
    def any_hub_workspace(self) -> str | None:
        return "default"

    def workspace_hubs(self) -> dict[str, list[str]]:
        hubs: dict[str, list[str]] = {}
        for hub, workspace in self.hub_workspaces.items():
            hubs.setdefault(workspace, []).append(hub)
        return hubs

    @property
    def attribute_names(self) -> list[str]:
        """Unknown in advance: every non-Komo key of a body becomes an attribute."""
        return []

    def map(self, envelope: Envelope) -> MapResult:
        payload = envelope.payload
        user = payload.get("customer_id")
        if not isinstance(user, str) or not user:
            return MappingFailure(MappingErrorKind.NO_IDENTIFIER, "no identify rule found a value (customer_id)")
        try:
            moment = parse_time(payload.get("timestamp"))
        except (TypeError, ValueError):
            moment = envelope.received_at
        attributes: dict[str, Any] = {"external_id": user}
        attributes.update({k: v for k, v in payload.items() if k not in KOMO_KEYS})
        event = {
            "external_id": user,
            "name": "komo_form_submitted",
            "time": moment.isoformat().replace("+00:00", "Z"),
            "properties": {"submission_id": envelope.submission_id, "site_id": envelope.hub_id},
        }
        rejected = (RejectedField("bad_field", "not a number"),) if "bad_field" in payload else ()
        return Mapped(
            workspace=self.hub_workspaces.get(envelope.hub_id, "default"),
            user=UserKey(IdentifierKind.EXTERNAL_ID, user),
            attributes=attributes,
            event=event,
            timestamp=moment,
            rejected=rejected,
        )
