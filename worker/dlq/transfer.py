"""``dlq export`` and ``dlq import``: dead letters as NDJSON, one letter per line, and back.

A line holds the letter's identity, its headers and its envelope (or, for a body that is not JSON, the
bytes in base64), so an operator can read it with ``jq``, fix it by hand if need be, and import it:
onto the work routing as a replay would (``x-replayed-at``, ``x-replay-count``), or back into the
dead-letter queue unchanged (``--to-dlq``). AMQP header values that JSON lacks are written as text:
times as ISO-8601 (the ``time`` of each ``x-death`` entry is turned back into a time on import).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import DeliveryMode

from komo_braze.deadletter import DeadLetter
from komo_braze.envelope import EnvelopeError, check_carried, format_time, parse_time, routing_key


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def export_line(letter: DeadLetter, timestamp: datetime | None = None) -> bytes:
    """The NDJSON line (with its newline) for one letter."""
    record: dict[str, Any] = {
        "message_id": letter.submission_id,
        "timestamp": format_time(timestamp) if timestamp else None,
        # x-delivery-count only says how often dlq commands read the letter: not part of it
        "headers": _json_safe({k: v for k, v in letter.headers.items() if k != "x-delivery-count"}),
    }
    try:
        record["envelope"] = orjson.loads(letter.body)
    except orjson.JSONDecodeError:
        record["body_base64"] = base64.b64encode(letter.body).decode("ascii")
    return orjson.dumps(record) + b"\n"


#: AMQP limits a header (field table) name to 128 bytes; the client would cut a longer one silently
HEADER_NAME_MAX_BYTES = 128


class BadLine(ValueError):
    """An import line that cannot become a message; the reason is safe to print."""


def _check_header_names(value: Any) -> None:
    """Raise :class:`BadLine` for a header name, at any depth, that AMQP cannot carry whole."""
    if isinstance(value, dict):
        for name, item in value.items():
            size = len(str(name).encode())
            if size > HEADER_NAME_MAX_BYTES:
                raise BadLine(f"a header name takes {size} bytes; the broker carries at most {HEADER_NAME_MAX_BYTES}")
            _check_header_names(item)
    elif isinstance(value, list):
        for item in value:
            _check_header_names(item)


def _restore_headers(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list):
        for death in deaths:
            if isinstance(death, dict) and isinstance(death.get("time"), str):
                try:
                    death["time"] = parse_time(death["time"]).replace(tzinfo=None)
                except ValueError:
                    continue
    return headers


def message_from_line(line: bytes) -> aio_pika.Message:
    """The dead letter an export line describes, as it sat in the dead-letter queue."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine("not valid JSON") from exc
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    if "envelope" in record:
        body = orjson.dumps(record["envelope"])
    elif isinstance(record.get("body_base64"), str):
        try:
            body = base64.b64decode(record["body_base64"], validate=True)
        except ValueError as exc:
            raise BadLine("body_base64 is not base64") from exc
    else:
        raise BadLine("no envelope and no body_base64")
    headers = record.get("headers") or {}
    if not isinstance(headers, dict):
        raise BadLine("headers is not an object")
    _check_header_names(headers)
    timestamp = None
    if isinstance(record.get("timestamp"), str):
        try:
            timestamp = parse_time(record["timestamp"])
        except ValueError as exc:
            raise BadLine("timestamp is not an ISO-8601 time") from exc
    message_id = record.get("message_id")
    return aio_pika.Message(
        body,
        headers=_restore_headers(headers),
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message_id if isinstance(message_id, str) else None,
        timestamp=timestamp,
    )


@dataclass(frozen=True, slots=True)
class Planned:
    """One import line ready to publish: where it goes and from which line it came."""

    line_number: int
    message: aio_pika.Message
    routing_key: str
    kind: str


def plan_import(line_number: int, line: bytes, *, to_dlq: bool, replayed_at: datetime) -> Planned:
    """What to publish for one line: the letter unchanged (``to_dlq``) or its replay; raises BadLine."""
    dead = message_from_line(line)
    letter = DeadLetter.from_message(dead)
    if to_dlq:
        planned = Planned(line_number, dead, "", letter.kind)
    else:
        hub = letter.routing_hub
        if hub is None:
            raise BadLine("no hub to route by (the body is not an envelope and there is no x-hub-id)")
        planned = Planned(line_number, letter.replay_message(replayed_at), routing_key(hub), letter.kind)
    try:
        check_carried("message_id", planned.message.message_id or "")
        check_carried("hub", planned.routing_key, in_routing_key=True)
    except EnvelopeError as exc:
        raise BadLine(exc.reason) from exc
    return planned
