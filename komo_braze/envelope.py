"""The message envelope: what sits on the queue.

The producer stores the Komo body untouched; mapping happens in the worker, so a mapping fix followed
by a dead-letter replay re-maps the original data. See docs/architecture.md, "The envelope".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

VERSION = 1
ROUTING_PREFIX = "hub."
#: AMQP carries a routing key and a message id as a short string: at most 255 bytes of UTF-8
SHORTSTR_MAX_BYTES = 255


class EnvelopeError(ValueError):
    """A body or message cannot be turned into an envelope; ``reason`` is safe to show to the sender."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


#: longest id a log event repeats from a refused body
LOGGED_ID_CHARS = 128


def _text_id(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def body_ids(payload: Any) -> dict[str, str | None]:
    """``submission_id`` and ``hub_id`` of a Komo body, as far as it has them, for the log events of a
    body that was refused (each cut to ``LOGGED_ID_CHARS``: a body is the sender's, not ours)."""
    if not isinstance(payload, dict):
        return {"submission_id": None, "hub_id": None}
    submission_id = _text_id(payload, "submission_id") or _text_id(payload, "id")
    hub_id = _text_id(payload, "site_id")
    return {
        "submission_id": submission_id[:LOGGED_ID_CHARS] if submission_id else None,
        "hub_id": hub_id[:LOGGED_ID_CHARS] if hub_id else None,
    }


@dataclass(frozen=True, slots=True)
class Envelope:
    """One Komo submission as carried through the broker."""

    submission_id: str
    hub_id: str
    event: str | None
    received_at: datetime
    payload: dict[str, Any]

    @classmethod
    def from_komo(cls, payload: Any, received_at: datetime | None = None) -> Envelope:
        """Wrap a Komo body; raises :class:`EnvelopeError` when it lacks what routing needs."""
        if not isinstance(payload, dict):
            raise EnvelopeError("body is not a JSON object")
        submission_id = _text_id(payload, "submission_id") or _text_id(payload, "id")
        if submission_id is None:
            raise EnvelopeError("body has no submission_id and no id", field="submission_id")
        hub_id = _text_id(payload, "site_id")
        if hub_id is None:
            raise EnvelopeError("body has no site_id", field="site_id")
        check_carried("submission_id", submission_id)
        check_carried("site_id", routing_key(hub_id), in_routing_key=True)
        event = payload.get("event")
        return cls(
            submission_id=submission_id,
            hub_id=hub_id,
            event=event if isinstance(event, str) else None,
            received_at=(received_at or datetime.now(UTC)).astimezone(UTC),
            payload=payload,
        )

    @property
    def routing_key(self) -> str:
        return routing_key(self.hub_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "submission_id": self.submission_id,
            "hub_id": self.hub_id,
            "event": self.event,
            "received_at": format_time(self.received_at),
            "payload": self.payload,
        }

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def decode(cls, body: bytes) -> Envelope:
        """Parse a queued envelope; raises :class:`EnvelopeError` on anything malformed."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError("envelope is not valid JSON") from exc
        if not isinstance(data, dict):
            raise EnvelopeError("envelope is not a JSON object")
        version = data.get("v")
        if version != VERSION:
            raise EnvelopeError(f"unsupported envelope version {version!r}", field="v")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise EnvelopeError("envelope payload is not a JSON object", field="payload")
        submission_id, hub_id = data.get("submission_id"), data.get("hub_id")
        if not isinstance(submission_id, str) or not submission_id:
            raise EnvelopeError("envelope has no submission_id", field="submission_id")
        if not isinstance(hub_id, str) or not hub_id:
            raise EnvelopeError("envelope has no hub_id", field="hub_id")
        event = data.get("event")
        try:
            received_at = parse_time(data.get("received_at"))
        except (TypeError, ValueError) as exc:
            raise EnvelopeError("envelope received_at is not an ISO-8601 time", field="received_at") from exc
        return cls(
            submission_id=submission_id,
            hub_id=hub_id,
            event=event if isinstance(event, str) else None,
            received_at=received_at,
            payload=payload,
        )


def routing_key(hub_id: str) -> str:
    return ROUTING_PREFIX + hub_id


def check_carried(field: str, text: str, *, in_routing_key: bool = False) -> None:
    """Raise :class:`EnvelopeError` when ``text`` (``field``'s value as sent, or ``in_routing_key`` the
    routing key made of it) is longer than an AMQP short string: the broker client would refuse it."""
    size = len(text.encode())
    if size > SHORTSTR_MAX_BYTES:
        where = " in the routing key" if in_routing_key else ""
        raise EnvelopeError(
            f"{field} takes {size} bytes{where}; the broker carries at most {SHORTSTR_MAX_BYTES} bytes", field=field
        )


def format_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, as Komo writes its own timestamps."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("time is not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
