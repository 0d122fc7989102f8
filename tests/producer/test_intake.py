from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import orjson
import pytest
import structlog

from komo_braze.envelope import Envelope
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY
from tests.producer.conftest import Intake, StartIntake


def body_with(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(KOMO_BODY)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


async def post_json(intake: Intake, body: Any) -> tuple[int, Any]:
    async with intake.post(orjson.dumps(body)) as response:
        return response.status, await response.json()


async def test_a_documented_body_lands_once_on_the_work_queue_with_envelope_and_properties(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake() as intake:
        status, answer = await post_json(intake, KOMO_BODY)
    assert (status, answer) == (202, {"submission_id": KOMO_BODY["submission_id"]})
    messages = await broker.drain(broker.names.work_queue())
    assert len(messages) == 1
    message = messages[0]
    envelope = Envelope.decode(message.body)
    assert envelope.payload == KOMO_BODY
    assert envelope.submission_id == KOMO_BODY["submission_id"]
    assert envelope.hub_id == KOMO_BODY["site_id"]
    assert envelope.event == "CompetitionEntrySuccess"
    assert message.message_id == KOMO_BODY["submission_id"]
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.timestamp is not None
    assert message.routing_key == f"hub.{KOMO_BODY['site_id']}"
    assert message.exchange == broker.names.exchange


async def test_id_stands_in_for_a_missing_submission_id(start_intake: StartIntake, broker: BrokerKit) -> None:
    async with start_intake() as intake:
        status, answer = await post_json(intake, body_with(submission_id=None))
    assert (status, answer) == (202, {"submission_id": KOMO_BODY["id"]})
    [message] = await broker.drain(broker.names.work_queue())
    assert message.message_id == KOMO_BODY["id"]


BAD_REQUESTS = [
    pytest.param(b"{not json", "application/json", 400, "not valid JSON", id="not-json"),
    pytest.param(b'["a", "list"]', "application/json", 400, "not a JSON object", id="not-an-object"),
    pytest.param(b'"text"', "application/json", 400, "not a JSON object", id="a-string"),
    pytest.param(
        orjson.dumps(body_with(submission_id=None, id=None)), "application/json", 400, "no submission_id", id="no-id"
    ),
    pytest.param(orjson.dumps(body_with(site_id=None)), "application/json", 400, "site_id", id="no-site-id"),
    pytest.param(orjson.dumps(body_with(site_id="  ")), "application/json", 400, "site_id", id="blank-site-id"),
    pytest.param(orjson.dumps(KOMO_BODY), "text/plain", 415, "not JSON", id="text-plain"),
    pytest.param(orjson.dumps(KOMO_BODY), "application/x-www-form-urlencoded", 415, "not JSON", id="form"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), BAD_REQUESTS)
async def test_bad_requests_get_a_one_line_reason_and_publish_nothing(
    start_intake: StartIntake, broker: BrokerKit, body: bytes, content_type: str, status: int, reason: str
) -> None:
    async with start_intake() as intake:
        async with intake.post(body, headers={"Content-Type": content_type}) as response:
            text = await response.text()
            assert response.status == status
        answer = orjson.loads(text)
        assert set(answer) == {"error"}
        assert reason in answer["error"]
        assert "\n" not in text
        # a good submission after the bad one: if the bad one had been published, it would be first
        assert (await post_json(intake, KOMO_BODY))[0] == 202
    messages = await broker.drain(broker.names.work_queue())
    assert [m.message_id for m in messages] == [KOMO_BODY["submission_id"]]


async def raw_exchange(port: int, request: bytes, then_send: bytes = b"") -> bytes:
    """Send ``request`` on a raw connection, optionally more, and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        if then_send:
            writer.write(then_send)
        await writer.drain()
        async with asyncio.timeout(5):  # well under aiohttp's 10 s of lingering: no draining of the rest
            return await reader.read()
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_arrives(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake(max_body_bytes=4096) as intake:
        head = (
            b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        # only the head and a few bytes are sent: an answer proves the rest was never waited for
        response = await raw_exchange(intake.producer.port or 0, head, b'{"id": "1"')
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"over the limit of 4096" in rest
    assert await broker.count(broker.names.work_queue()) == 0


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(start_intake: StartIntake, broker: BrokerKit) -> None:
    async with start_intake(max_body_bytes=4096) as intake:
        head = (
            b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b'{"pad": "' + b"x" * 1000 + b'"}'
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6))  # 6 KB, never terminated
        response = await raw_exchange(intake.producer.port or 0, head, chunks)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"over the limit of 4096 bytes" in response
    assert await broker.count(broker.names.work_queue()) == 0


async def test_many_concurrent_requests_share_the_connection_and_all_land(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake() as intake:
        bodies = [body_with(submission_id=f"sub-{n}") for n in range(200)]
        answers = await asyncio.gather(*(post_json(intake, body) for body in bodies))
        metrics = await intake.metrics_text()
    assert [status for status, _ in answers] == [202] * 200
    assert sorted(answer["submission_id"] for _, answer in answers) == sorted(f"sub-{n}" for n in range(200))
    assert await broker.wait_for_count(broker.names.work_queue(), 200) == 200
    assert 'komo_braze_producer_requests_total{status="202"} 200.0' in metrics
    assert 'komo_braze_producer_publish_seconds_count{outcome="confirmed"} 200.0' in metrics
    assert "komo_braze_producer_publishes_in_flight 0.0" in metrics


async def test_health_and_readiness(start_intake: StartIntake) -> None:
    async with start_intake() as intake:
        async with intake.session.get(f"{intake.url}/healthz") as response:
            assert response.status == 200
        async with intake.session.get(f"{intake.url}/readyz") as response:
            assert (response.status, await response.json()) == (200, {"status": "ready"})
        assert "komo_braze_producer_ready 1.0" in await intake.metrics_text()


async def test_an_unroutable_submission_is_a_503_never_a_202(start_intake: StartIntake, broker: BrokerKit) -> None:
    async with start_intake() as intake:
        async with broker.connection() as connection:
            await (await connection.channel()).queue_delete(broker.names.work_queue())
        async with intake.post(orjson.dumps(KOMO_BODY)) as response:
            assert response.status == 503
            assert "no queue is bound" in (await response.json())["error"]
            assert response.headers["Retry-After"] == "1"
        metrics = await intake.metrics_text()
    assert 'komo_braze_producer_publish_seconds_count{outcome="unroutable"} 1.0' in metrics


async def test_raw_bytes_without_a_json_type_are_a_415(start_intake: StartIntake, broker: BrokerKit) -> None:
    async with (
        start_intake() as intake,
        intake.session.post(f"{intake.url}/v1/submissions", data=orjson.dumps(KOMO_BODY)) as response,
    ):
        assert response.status == 415  # aiohttp labels raw bytes application/octet-stream
    assert await broker.count(broker.names.work_queue()) == 0


async def test_logs_name_no_personal_data(start_intake: StartIntake) -> None:
    with structlog.testing.capture_logs() as events:
        async with start_intake(log_level="debug") as intake:
            for body in (KOMO_BODY, body_with(site_id=None), body_with(submission_id=None, id=None)):
                async with intake.post(orjson.dumps(body)) as response:
                    await response.read()
    assert {e["event"] for e in events} >= {"submission_refused", "submission_accepted"}
    text = repr(events)
    for personal in ("joe@bloggs.com", "Joe", "Bloggs"):
        assert personal not in text


#: AMQP carries a routing key and a message id as a short string: at most 255 bytes of UTF-8
TOO_LONG_FOR_AMQP = [
    pytest.param({"site_id": "h" * 252}, "site_id", id="site-id-256-byte-routing-key"),
    pytest.param({"site_id": "é" * 126}, "site_id", id="site-id-multibyte"),
    pytest.param({"submission_id": "s" * 256}, "submission_id", id="submission-id"),
    pytest.param({"submission_id": None, "id": "i" * 300}, "submission_id", id="id"),
]


@pytest.mark.parametrize(("changes", "field"), TOO_LONG_FOR_AMQP)
async def test_an_id_longer_than_amqp_carries_is_a_counted_400_with_a_reason(
    start_intake: StartIntake, broker: BrokerKit, changes: dict[str, Any], field: str
) -> None:
    async with start_intake() as intake:
        status, answer = await post_json(intake, body_with(**changes))
        metrics = await intake.metrics_text()
        assert (await post_json(intake, KOMO_BODY))[0] == 202  # the intake still publishes
    assert status == 400
    assert answer["error"].startswith(field)
    assert "255 bytes" in answer["error"]
    assert 'komo_braze_producer_requests_total{status="400"} 1.0' in metrics
    assert [m.message_id for m in await broker.drain(broker.names.work_queue())] == [KOMO_BODY["submission_id"]]


async def test_ids_of_exactly_255_bytes_on_the_wire_are_accepted(start_intake: StartIntake, broker: BrokerKit) -> None:
    longest = body_with(site_id="h" * 251, submission_id="s" * 255)  # routing key "hub." + 251 = 255 bytes
    async with start_intake() as intake:
        status, _ = await post_json(intake, longest)
    assert status == 202
    [message] = await broker.drain(broker.names.work_queue())
    assert (message.routing_key, message.message_id) == ("hub." + "h" * 251, "s" * 255)
