from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aio_pika
import orjson
import pytest

from komo_braze.deadletter import DeadLetter
from tests.worker.dlq.letters import dead_letter, spec
from worker.dlq.transfer import BadLine, export_line, message_from_line, plan_import

REPLAYED_AT = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


def test_an_exported_letter_imports_back_as_the_same_dead_letter() -> None:
    original = DeadLetter.from_message(dead_letter(spec(4)))
    line = export_line(original, datetime(2026, 11, 1, tzinfo=UTC))
    assert line.endswith(b"\n")
    record = orjson.loads(line)
    assert record["envelope"]["payload"]["email"] == "user4@example.com"
    again = DeadLetter.from_message(message_from_line(line))
    assert again.body == original.body
    assert (again.submission_id, again.kind, again.hub_id, again.failed_at) == (
        original.submission_id,
        original.kind,
        original.hub_id,
        original.failed_at,
    )


def test_a_broker_dead_letter_keeps_its_death_time_and_a_non_json_body_its_bytes() -> None:
    death = {"queue": "komo.braze.default", "reason": "delivery_limit", "count": 1, "time": datetime(2026, 11, 2, 3, 4)}
    headers: dict[str, Any] = {"x-death": [death], "x-first-death-reason": "delivery_limit", "x-first-death-queue": "q"}
    message = aio_pika.Message(b"\xff not json", message_id="m-1", headers=headers)
    line = export_line(DeadLetter.from_message(message))
    assert "body_base64" in orjson.loads(line)
    again = DeadLetter.from_message(message_from_line(line))
    assert again.body == b"\xff not json"
    assert again.kind == "delivery_limit"
    assert again.failed_at == datetime(2026, 11, 2, 3, 4, tzinfo=UTC)


def test_import_onto_the_work_routing_is_a_replay_and_to_the_dlq_is_unchanged() -> None:
    line = export_line(DeadLetter.from_message(dead_letter(spec(7))))
    work = plan_import(1, line, to_dlq=False, replayed_at=REPLAYED_AT)
    assert work.routing_key == "hub.hub-c"
    assert work.message.headers["x-replay-count"] == 1
    assert "x-error-kind" not in work.message.headers
    dead = plan_import(1, line, to_dlq=True, replayed_at=REPLAYED_AT)
    assert dead.routing_key == ""
    assert dead.message.headers["x-error-kind"] == "no_identifier"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"headers": {}}', "no envelope"),
        (b'{"body_base64": "***"}', "not base64"),
        (b'{"envelope": {}, "timestamp": "soon"}', "timestamp"),
    ],
)
def test_a_line_that_cannot_become_a_message_says_why(line: bytes, reason: str) -> None:
    with pytest.raises(BadLine, match=reason):
        message_from_line(line)


def test_a_line_with_no_hub_cannot_go_to_the_work_routing() -> None:
    with pytest.raises(BadLine, match="no hub"):
        plan_import(3, b'{"body_base64": "AAE="}', to_dlq=False, replayed_at=REPLAYED_AT)


def exported_with(**changes: Any) -> bytes:
    record = orjson.loads(export_line(DeadLetter.from_message(dead_letter(spec(7)))))
    record["envelope"].update(changes)
    return orjson.dumps(record)


@pytest.mark.parametrize("to_dlq", [False, True])
def test_a_message_id_longer_than_amqp_carries_is_a_bad_line(to_dlq: bool) -> None:
    record = orjson.loads(exported_with())
    record["message_id"] = "m" * 256
    with pytest.raises(BadLine, match="message_id takes 256 bytes"):
        plan_import(3, orjson.dumps(record), to_dlq=to_dlq, replayed_at=REPLAYED_AT)


def test_a_hub_too_long_for_a_routing_key_is_a_bad_line_on_the_work_routing_only() -> None:
    line = exported_with(hub_id="h" * 252)
    with pytest.raises(BadLine, match="hub takes 256 bytes in the routing key"):
        plan_import(3, line, to_dlq=False, replayed_at=REPLAYED_AT)
    assert plan_import(3, line, to_dlq=True, replayed_at=REPLAYED_AT).routing_key == ""
