from __future__ import annotations

from datetime import UTC, datetime

import aio_pika

from komo_braze import deadletter
from komo_braze.deadletter import DeadLetter, ErrorKind
from komo_braze.envelope import Envelope, routing_key
from tests.broker import BrokerKit


def _envelope() -> Envelope:
    return Envelope.from_komo({"submission_id": "sub-1", "site_id": "hub-1", "email": "joe@bloggs.com"})


async def test_a_worker_dead_letter_keeps_the_envelope_and_carries_the_error_headers(broker: BrokerKit) -> None:
    await broker.declare()
    envelope = _envelope()
    original = aio_pika.Message(envelope.encode(), message_id=envelope.submission_id)
    moment = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    message = deadletter.build_dead_letter(
        original.body,
        original,
        kind=ErrorKind.BRAZE_REJECTED,
        detail="Invalid email address",
        attempts=2,
        hub_id="hub-1",
        workspace="default",
        failed_at=moment,
    )
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.dead_exchange)
        await exchange.publish(message, routing_key="", mandatory=True, timeout=5)
    [received] = await broker.drain(broker.names.dead_queue)
    letter = DeadLetter.from_message(received)
    assert received.body == envelope.encode()
    assert (letter.submission_id, letter.hub_id, letter.workspace) == ("sub-1", "hub-1", "default")
    assert (letter.kind, letter.detail, letter.attempts, letter.failed_at) == (
        "braze_rejected",
        "Invalid email address",
        2,
        moment,
    )
    assert letter.envelope is not None
    assert letter.envelope.payload["email"] == "joe@bloggs.com"


async def test_a_broker_dead_letter_reads_as_delivery_limit(broker: BrokerKit) -> None:
    await broker.declare(delivery_limit=1)
    envelope = _envelope()
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.exchange)
        await exchange.publish(
            aio_pika.Message(envelope.encode(), message_id=envelope.submission_id),
            routing_key=routing_key(envelope.hub_id),
            mandatory=True,
        )
        queue = await channel.declare_queue(broker.names.work_queue(), passive=True)
        for _ in range(2):
            message = await queue.get(timeout=5, fail=False)
            if message is not None:
                await message.reject(requeue=True)
    assert await broker.wait_for_count(broker.names.dead_queue, 1) == 1
    [received] = await broker.drain(broker.names.dead_queue)
    letter = DeadLetter.from_message(received)
    assert letter.kind == "delivery_limit"
    assert letter.submission_id == "sub-1"
    assert letter.hub_id == "hub-1"
    assert "braze.default" in letter.detail


def test_a_replay_drops_the_failure_headers_and_keeps_the_last_error() -> None:
    envelope = _envelope()
    original = aio_pika.Message(envelope.encode(), message_id=envelope.submission_id, headers={"x-trace": "t-1"})
    dead = deadletter.build_dead_letter(
        original.body,
        original,
        kind=ErrorKind.BRAZE_REJECTED,
        detail="Invalid email",
        attempts=3,
        hub_id="hub-1",
        workspace="default",
        failed_at=datetime(2026, 11, 29, 4, 0, tzinfo=UTC),
    )
    dead.headers["x-death"] = [{"queue": "komo.braze.default", "reason": "delivery_limit"}]
    dead.headers["x-delivery-count"] = 4
    letter = DeadLetter.from_message(dead)
    replay = letter.replay_message(datetime(2026, 11, 29, 5, 0, tzinfo=UTC))
    assert replay.headers == {
        "x-trace": "t-1",
        "x-last-error-kind": "braze_rejected",
        "x-last-error-detail": "Invalid email",
        "x-last-failed-at": "2026-11-29T04:00:00.000Z",
        "x-replayed-at": "2026-11-29T05:00:00.000Z",
        "x-replay-count": 1,
    }
    assert replay.body == envelope.encode()
    assert replay.message_id == "sub-1"
    again = DeadLetter.from_message(
        deadletter.build_dead_letter(
            replay.body, replay, kind=ErrorKind.NO_IDENTIFIER, detail="", attempts=1, hub_id="hub-1", workspace=None
        )
    )
    assert again.replay_count == 1
    assert again.replay_message(datetime(2026, 11, 29, 6, 0, tzinfo=UTC)).headers["x-replay-count"] == 2


def test_replay_properties_are_those_of_the_replay_message() -> None:
    envelope = Envelope.from_komo({"submission_id": "sub-1", "site_id": "hub-1", "email": "a@example.com"})
    original = aio_pika.Message(envelope.encode(), headers={"x-trace": "t-1"}, message_id="sub-1")
    dead = deadletter.build_dead_letter(
        original.body,
        original,
        kind=ErrorKind.UNMAPPED_HUB,
        detail="no mapping",
        attempts=1,
        hub_id="hub-1",
        workspace="default",
    )
    letter = DeadLetter.from_message(dead)
    moment = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
    assert letter.replay_properties(moment).marshal() == letter.replay_message(moment).properties.marshal()
    assert (letter.replay_properties(moment).headers or {})["x-replay-count"] == 1
