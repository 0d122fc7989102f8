from __future__ import annotations

import aio_pika
import pytest

from komo_braze import topology
from komo_braze.envelope import routing_key
from tests.broker import BrokerKit


async def test_declaring_twice_is_harmless_and_routes_every_hub_to_default(broker: BrokerKit) -> None:
    await broker.declare(delivery_limit=5)
    await broker.declare(delivery_limit=5)
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.exchange)
        for hub in ("hub-a", "hub-b"):
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key(hub), mandatory=True)
    assert await broker.wait_for_count(broker.names.work_queue(), 2) == 2


async def test_a_named_workspace_takes_only_its_hubs(broker: BrokerKit) -> None:
    broker.workspaces.add("client_b")
    await broker.declare(workspace_hubs={"client_b": ["hub-b"]})
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.exchange)
        for hub in ("hub-a", "hub-b", "hub-c"):
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key(hub), mandatory=True)
    assert await broker.wait_for_count(broker.names.work_queue("client_b"), 1) == 1
    assert await broker.wait_for_count(broker.names.work_queue(), 2) == 2


async def test_work_queue_dead_letters_after_the_delivery_limit(broker: BrokerKit) -> None:
    await broker.declare(delivery_limit=2)
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.exchange)
        await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key("hub"), mandatory=True)
        queue = await channel.declare_queue(broker.names.work_queue(), passive=True)
        for _ in range(3):
            message = await queue.get(timeout=5, fail=False)
            if message is None:
                break
            await message.reject(requeue=True)
    assert await broker.wait_for_count(broker.names.dead_queue, 1) == 1
    assert await broker.count(broker.names.work_queue()) == 0


async def test_a_conflicting_queue_is_reported_not_replaced(broker: BrokerKit) -> None:
    async with broker.connection() as connection:
        channel = await connection.channel()
        await channel.declare_queue(broker.names.work_queue(), durable=True)  # classic, no arguments
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await broker.declare()


async def test_queue_counts_of_a_missing_queue_is_none(broker: BrokerKit) -> None:
    async with broker.connection() as connection:
        assert await topology.queue_counts(connection, broker.names.work_queue("nowhere")) is None
