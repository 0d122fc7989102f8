from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from komo_braze.envelope import Envelope, EnvelopeError, format_time

KOMO_BODY = {
    "id": "54e635de-92f5-4419-a498-5f69323db34c",
    "event": "CompetitionEntrySuccess",
    "timestamp": "2026-01-01T09:30:00.000Z",
    "site_id": "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11",
    "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
    "email": "joe@bloggs.com",
    "optin": "true",
}


def test_a_documented_body_is_wrapped_untouched() -> None:
    received = datetime(2026, 1, 1, 9, 30, 1, 250_000, tzinfo=UTC)
    envelope = Envelope.from_komo(dict(KOMO_BODY), received_at=received)
    data = orjson.loads(envelope.encode())
    assert data == {
        "v": 1,
        "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
        "hub_id": "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11",
        "event": "CompetitionEntrySuccess",
        "received_at": "2026-01-01T09:30:01.250Z",
        "payload": KOMO_BODY,
    }
    assert envelope.routing_key == "hub.2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"


def test_id_stands_in_for_a_missing_submission_id() -> None:
    body = {k: v for k, v in KOMO_BODY.items() if k != "submission_id"}
    assert Envelope.from_komo(body).submission_id == KOMO_BODY["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"site_id": "s"}, "submission_id"),
        ({"id": "  ", "site_id": "s"}, "submission_id"),
        ({"id": "x"}, "site_id"),
        ({"id": "x", "site_id": ""}, "site_id"),
    ],
)
def test_bodies_without_routing_fields_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(EnvelopeError) as raised:
        Envelope.from_komo(body)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"v": 2, "submission_id": "a", "hub_id": "b", "received_at": "2026-01-01T00:00:00Z", "payload": {}}',
        b'{"v": 1, "submission_id": "a", "hub_id": "b", "received_at": "yesterday", "payload": {}}',
        b'{"v": 1, "submission_id": "a", "hub_id": "b", "received_at": "2026-01-01T00:00:00Z", "payload": []}',
        b'{"v": 1, "hub_id": "b", "received_at": "2026-01-01T00:00:00Z", "payload": {}}',
    ],
)
def test_malformed_envelopes_do_not_decode(body: bytes) -> None:
    with pytest.raises(EnvelopeError):
        Envelope.decode(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(
    extra=st.dictionaries(st.text(), json_values, max_size=8),
    # at most 60 characters of up to 4 bytes: within what AMQP carries (255 bytes, "hub." + site_id)
    submission_id=st.text(min_size=1, max_size=60).filter(str.strip),
    site_id=st.text(min_size=1, max_size=60).filter(str.strip),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_envelopes_round_trip(extra: dict[str, Any], submission_id: str, site_id: str, moment: datetime) -> None:
    body = {**extra, "submission_id": submission_id, "site_id": site_id}
    envelope = Envelope.from_komo(body, received_at=moment)
    decoded = Envelope.decode(envelope.encode())
    assert decoded.payload == body
    assert decoded.submission_id == submission_id.strip()
    assert decoded.hub_id == site_id.strip()
    assert format_time(decoded.received_at) == format_time(moment)
