"""Komo bodies and mappings shared by the mapping tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from komo_braze.envelope import Envelope
from tests.komo_example import KOMO_BODY
from worker.mapping import Mapped, MappingConfig, MapResult

EXAMPLE_MAPPING = Path(__file__).resolve().parents[3] / "deploy" / "mapping.example.yaml"
OTHER_HUB = "7a0c4e21-3b5d-4f6e-8a9b-0c1d2e3f4a5b"
RECEIVED_AT = datetime(2026, 1, 1, 9, 30, 5, tzinfo=UTC)


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
