"""The dead-letter format, shared by the worker (which writes dead letters) and ``komo-braze dlq``.

A dead letter is the original envelope, unchanged, published to ``{prefix}.dead`` with confirm before
the original is acked, carrying ``x-error-*`` headers (docs/architecture.md, "The worker's outcome policy"). A
message the broker itself dead-lettered after ``x-delivery-limit`` deliveries carries RabbitMQ's
``x-death`` / ``x-first-death-reason`` headers instead; :meth:`DeadLetter.from_message` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractMessage, DeliveryMode
from aiormq.abc import DeliveredMessage

from komo_braze.envelope import Envelope, EnvelopeError, format_time, parse_time

KIND = "x-error-kind"
DETAIL = "x-error-detail"
FAILED_AT = "x-failed-at"
ATTEMPTS = "x-attempts"
HUB_ID = "x-hub-id"
WORKSPACE = "x-workspace"
REPLAYED_AT = "x-replayed-at"
REPLAY_COUNT = "x-replay-count"
ERROR_HEADERS = (KIND, DETAIL, FAILED_AT, ATTEMPTS, HUB_ID, WORKSPACE)
LAST_KIND = "x-last-error-kind"
LAST_DETAIL = "x-last-error-detail"
LAST_FAILED_AT = "x-last-failed-at"
#: headers the broker or a queue adds; a replay is a new life on the work queue, so they go
BROKER_HEADERS = (
    "x-death",
    "x-first-death-reason",
    "x-first-death-queue",
    "x-first-death-exchange",
    "x-last-death-reason",
    "x-last-death-queue",
    "x-last-death-exchange",
    "x-delivery-count",
)

#: longest x-error-detail kept; Braze's texts are short, this bounds a surprise
MAX_DETAIL_CHARS = 1000


class ErrorKind(StrEnum):
    """Why a submission was dead-lettered (the ``x-error-kind`` header)."""

    INVALID_SUBMISSION = "invalid_submission"  # the message cannot be decoded as an envelope
    NO_IDENTIFIER = "no_identifier"  # mapping: no identify rule found a value
    INVALID_IDENTIFIER = "invalid_identifier"  # mapping: identifier values were there but invalid
    UNMAPPED_HUB = "unmapped_hub"  # mapping: the hub has no entry and there is no "*"
    BRAZE_REJECTED = "braze_rejected"  # Braze named the object in errors[], or it failed alone in a 400/413
    DELIVERY_LIMIT = "delivery_limit"  # the broker dead-lettered it after x-delivery-limit deliveries


def build_dead_letter(
    body: bytes,
    properties: AbstractMessage | None,
    *,
    kind: ErrorKind,
    detail: str,
    attempts: int,
    hub_id: str | None,
    workspace: str | None,
    failed_at: datetime | None = None,
) -> aio_pika.Message:
    """The dead letter for an original message: same body and identity, plus the error headers."""
    headers: dict[str, Any] = dict(properties.headers) if properties is not None and properties.headers else {}
    headers.update(
        {
            KIND: kind.value,
            DETAIL: detail[:MAX_DETAIL_CHARS],
            FAILED_AT: format_time(failed_at or datetime.now(UTC)),
            ATTEMPTS: attempts,
            HUB_ID: hub_id or "",
            WORKSPACE: workspace or "",
        }
    )
    return aio_pika.Message(
        body,
        headers=headers,
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=properties.message_id if properties is not None else None,
        timestamp=properties.timestamp if properties is not None else None,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as read back from the dead-letter queue."""

    submission_id: str | None
    hub_id: str | None
    workspace: str | None
    kind: str
    detail: str
    failed_at: datetime | None
    attempts: int
    replay_count: int
    body: bytes
    headers: dict[str, Any]
    envelope: Envelope | None  # None when the body is not a valid envelope

    @property
    def routing_hub(self) -> str | None:
        """The hub a replay routes by: the envelope's, else the header's (``None``: cannot route)."""
        return self.envelope.hub_id if self.envelope is not None else self.hub_id

    def replay_message(self, replayed_at: datetime) -> aio_pika.Message:
        """The message a replay publishes: routed as a new submission would be.

        The failure's ``x-error-*`` headers (and the broker's ``x-death`` family) are removed, so a
        later failure is never read with a stale kind, hub or workspace; the failure is kept, normalised,
        as ``x-last-error-kind``, ``x-last-error-detail`` and ``x-last-failed-at``.
        """
        return aio_pika.Message(
            self.body,
            headers=self._replay_headers(replayed_at),
            content_type="application/json",
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=self.submission_id,
            timestamp=self.envelope.received_at if self.envelope is not None else replayed_at,
        )

    def replay_properties(self, replayed_at: datetime) -> aiormq.spec.Basic.Properties:
        """The properties of :meth:`replay_message`, built without an ``aio_pika.Message`` (whose
        attribute checks cost a replay about a tenth of its time)."""
        return aiormq.spec.Basic.Properties(
            content_type="application/json",
            delivery_mode=DeliveryMode.PERSISTENT.value,
            priority=0,  # what aio-pika writes by default
            headers=self._replay_headers(replayed_at),
            message_id=self.submission_id,
            timestamp=self.envelope.received_at if self.envelope is not None else replayed_at,
        )

    def _replay_headers(self, replayed_at: datetime) -> dict[str, Any]:
        headers = {k: v for k, v in self.headers.items() if k not in ERROR_HEADERS and k not in BROKER_HEADERS}
        headers[LAST_KIND] = self.kind
        headers[LAST_DETAIL] = self.detail[:MAX_DETAIL_CHARS]
        if self.failed_at is not None:
            headers[LAST_FAILED_AT] = format_time(self.failed_at)
        headers[REPLAYED_AT] = format_time(replayed_at)
        headers[REPLAY_COUNT] = self.replay_count + 1
        return headers

    @classmethod
    def from_message(cls, message: AbstractMessage) -> DeadLetter:
        return cls.read(message.body, message.headers, message.message_id)

    @classmethod
    def from_delivered(cls, message: DeliveredMessage) -> DeadLetter:
        """From aiormq's delivery as it is (no ``aio_pika`` message built)."""
        properties = message.header.properties
        return cls.read(message.body, properties.headers, properties.message_id)

    @classmethod
    def read(cls, body: bytes, message_headers: Mapping[str, Any] | None, message_id: str | None) -> DeadLetter:
        headers = dict(message_headers or {})
        try:
            envelope: Envelope | None = Envelope.decode(body)
        except EnvelopeError:
            envelope = None
        kind = _text(headers.get(KIND))
        detail = _text(headers.get(DETAIL)) or ""
        failed_at: datetime | None = None
        try:
            failed_at = parse_time(_text(headers.get(FAILED_AT)))
        except (TypeError, ValueError):
            failed_at = None
        if kind is None:  # dead-lettered by the broker, not by the worker
            reason = _text(headers.get("x-first-death-reason")) or "unknown"
            kind = ErrorKind.DELIVERY_LIMIT.value if reason == "delivery_limit" else f"broker_{reason}"
            detail = (
                detail or f"dead-lettered by the broker ({reason}) from {_text(headers.get('x-first-death-queue'))}"
            )
            deaths = headers.get("x-death")
            if failed_at is None and isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
                moment = deaths[0].get("time")
                failed_at = moment.replace(tzinfo=UTC) if isinstance(moment, datetime) else None
        return cls(
            submission_id=message_id or (envelope.submission_id if envelope else None),
            hub_id=_text(headers.get(HUB_ID)) or (envelope.hub_id if envelope else None),
            workspace=_text(headers.get(WORKSPACE)),
            kind=kind,
            detail=detail,
            failed_at=failed_at,
            attempts=_int(headers.get(ATTEMPTS)),
            replay_count=_int(headers.get(REPLAY_COUNT)),
            body=body,
            headers=headers,
            envelope=envelope,
        )
