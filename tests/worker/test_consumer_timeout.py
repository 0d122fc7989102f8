"""Held messages and RabbitMQ's ``consumer_timeout``, on a broker node of the test's own.

The first test pins down what RabbitMQ 3.10 does (the worker's design rests on it); the second shows
the worker riding out an outage several times longer than ``consumer_timeout`` with nothing
dead-lettered and per-user order kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio

from braze_sim.testing import running_sim
from tests.broker import BrokerKit, unique_prefix
from tests.own_broker import OwnBroker, own_broker
from tests.waiting import eventually
from tests.worker.harness import acked, body, dead_letters, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper

CONSUMER_TIMEOUT_MS = 3000

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node() -> AsyncIterator[OwnBroker]:
    """One node for both tests (each keeps to a prefix of its own): starting one takes seconds."""
    # RabbitMQ checks consumer_timeout on each channel tick (60 s by default): tick every 0.5 s
    async with own_broker({"consumer_timeout": CONSUMER_TIMEOUT_MS}, {"channel_tick_interval": 500}) as running:
        yield running


async def test_rabbitmq_returns_held_messages_in_order_and_counts_the_return(node: OwnBroker) -> None:
    kit = BrokerKit(amqp_url=node.amqp_url, prefix=unique_prefix("ct"))
    await kit.declare()
    await publish(kit, [body(f"u{n}", n=n, seq=n) for n in range(30)])
    async with kit.connection() as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=20)
        closed = asyncio.Event()
        channel.close_callbacks.add(lambda *_: closed.set())
        queue = await channel.get_queue(kit.names.work_queue())
        held: list[aio_pika.abc.AbstractIncomingMessage] = []
        await queue.consume(held.append)  # type: ignore[arg-type]
        await asyncio.wait_for(closed.wait(), CONSUMER_TIMEOUT_MS / 1000 * 5)
        assert len(held) == 20
        await publish(kit, [body("late", n=99, seq=99)])
        again = await connection.channel()
        queue = await again.get_queue(kit.names.work_queue())
        seen = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            seen.append((message.message_id, (message.headers or {}).get("x-delivery-count")))
    ids = [message.message_id for message in held]
    assert [s for s, _ in seen[:20]] == ids  # the returned ones first, in their order
    assert {count for _, count in seen[:20]} == {1}  # each return counted towards x-delivery-limit
    assert len(seen) == 31


async def test_an_outage_longer_than_consumer_timeout_dead_letters_nothing_and_keeps_order(node: OwnBroker) -> None:
    kit = BrokerKit(amqp_url=node.amqp_url, prefix=unique_prefix("ct"))
    await kit.declare()
    users = ["ann", "bob", "cat"]
    bodies = [body(users[n % 3], n=n, seq=n) for n in range(30)]
    async with (
        running_sim(outage_for_s=4 * CONSUMER_TIMEOUT_MS / 1000) as sim,
        running_worker(kit, SimpleMapper(), braze_url=sim.url, hold_limit_s=1.5, braze_retry_max_s=0.3) as worker,
    ):
        await publish(kit, bodies)
        await eventually(acked(worker, 30), timeout_s=60, what="30 acks after the outage")
        assert worker.value("messages_returned_total", workspace="default") >= 30
        assert await dead_letters(kit) == []
        for user in users:
            events = await sim.client.events(external_id=user)
            assert [e["properties"]["submission_id"] for e in events] == [
                b["submission_id"] for b in bodies if b["customer_id"] == user
            ]
            profile = await sim.client.profile(external_id=user)
            assert profile is not None
            assert profile["custom_attributes"]["seq"] == max(b["seq"] for b in bodies if b["customer_id"] == user)
