"""Komo bodies and mappings shared by the mapping tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from komo_braze.envelope import Envelope
from worker.mapping import Mapped, MappingConfig, MapResult

EXAMPLE_MAPPING = Path(__file__).resolve().parents[3] / "deploy" / "mapping.example.yaml"
SUMMER_HUB = "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"
OTHER_HUB = "7a0c4e21-3b5d-4f6e-8a9b-0c1d2e3f4a5b"
RECEIVED_AT = datetime(2026, 1, 1, 9, 30, 5, tzinfo=UTC)

#: the documented form-submission webhook (reference/komo-submissions.md), verbatim
KOMO_BODY: dict[str, Any] = {
    "id": "54e635de-92f5-4419-a498-5f69323db34c",
    "event": "CompetitionEntrySuccess",
    "timestamp": "2026-01-01T09:30:00.000Z",
    "site_id": SUMMER_HUB,
    "site_name": "Summer Hub",
    "user_session_id": "d40cc0e7-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "user_profile_id": "0fdbb943-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
    "card_name": "Footy Tipping Quiz",
    "card_type": "Quiz",
    "score": "1",
    "correct": "1",
    "competition_entry_id": "a76a65ea-3b4c-4d5e-8f6a-7b8c9d0e1f2a",
    "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
    "email": "joe@bloggs.com",
    "first_name": "Joe",
    "last_name": "Bloggs",
    "optin": "true",
}


def body(**changes: Any) -> dict[str, Any]:
    """The documented body with fields changed; a value of ``None`` removes the field."""
    result = {**KOMO_BODY, **changes}
    return {key: value for key, value in result.items() if value is not None}


def envelope(payload: dict[str, Any]) -> Envelope:
    return Envelope.from_komo(payload, received_at=RECEIVED_AT)


def mapping(yaml_text: str) -> MappingConfig:
    return MappingConfig.from_text(textwrap.dedent(yaml_text), "test.yaml")


def mapped(config: MappingConfig, payload: dict[str, Any]) -> Mapped:
    """Map a body that must map; fails the test with the failure otherwise."""
    result: MapResult = config.map(envelope(payload))
    assert isinstance(result, Mapped), result
    return result
