"""A confirm channel after real nacks: a classic queue of one message with ``reject-publish`` is full."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import pytest

from komo_braze.confirm_channel import ConfirmChannel
from tests.broker import BrokerKit
from tests.waiting import eventually

RENEW_INTERVAL_S = 0.2


@dataclass
class FullQueue:
    confirms: ConfirmChannel
    renewals: list[float]  # time.monotonic() of each fresh channel
    name: str

    async def purge(self, broker: BrokerKit) -> None:
        async with broker.connection() as connection:
            await (await (await connection.channel()).get_queue(self.name)).purge()


@asynccontextmanager
async def full_queue(broker: BrokerKit, *, timeout_s: float = 5.0) -> AsyncIterator[FullQueue]:
    """A fanout exchange bound to a queue that holds one message and nacks the next, already full, and
    a :class:`ConfirmChannel` publishing to it."""
    exchange_name, queue_name = f"{broker.prefix}.nacking", f"{broker.prefix}.full"
    connection = await aio_pika.connect_robust(broker.amqp_url)
    try:
        setup = await connection.channel()
        exchange = await setup.declare_exchange(exchange_name, aio_pika.ExchangeType.FANOUT, auto_delete=True)
        queue = await setup.declare_queue(
            queue_name, auto_delete=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        await queue.bind(exchange)
        renewals: list[float] = []
        confirms = await ConfirmChannel.open(
            connection,
            exchange_name,
            name="test",
            timeout_s=timeout_s,
            renew_interval_s=RENEW_INTERVAL_S,
            on_renewed=lambda: renewals.append(time.monotonic()),
        )
        await confirms.publish(aio_pika.Message(b"first"), routing_key="")
        try:
            yield FullQueue(confirms, renewals, queue_name)
        finally:
            confirms.stop()
            await setup.queue_delete(queue_name)
            await setup.exchange_delete(exchange_name)
    finally:
        await connection.close()


async def test_a_nack_hands_the_publishes_to_a_fresh_channel_and_closes_the_spent_one_later(
    broker: BrokerKit,
) -> None:
    async with full_queue(broker, timeout_s=2.0) as full:
        spent = full.confirms.channel
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await full.confirms.publish(aio_pika.Message(b"second"), routing_key="")
        await eventually(lambda: len(full.renewals) == 1)
        assert full.confirms.channel is not spent
        assert not spent.is_closed  # a publish still waiting on it gets its answer first
        await eventually(lambda: spent.is_closed, timeout_s=5)
        await full.purge(broker)
        await full.confirms.publish(aio_pika.Message(b"third"), routing_key="")  # on the fresh channel


async def test_publishing_until_confirmed_goes_on_after_nacks_until_the_queue_takes_the_message(
    broker: BrokerKit,
) -> None:
    async with full_queue(broker) as full:
        publishing = asyncio.create_task(
            full.confirms.publish_until_confirmed(aio_pika.Message(b"second"), "", timeout_s=10)
        )
        await eventually(lambda: len(full.renewals) >= 2)
        assert not publishing.done()
        await full.purge(broker)
        await asyncio.wait_for(publishing, timeout=5)
        async with broker.connection() as connection:
            queue = await (await connection.channel()).get_queue(full.name)
            message = await queue.get(no_ack=True)
            assert message.body == b"second"


async def test_publishing_until_confirmed_gives_up_after_its_timeout_opening_a_channel_at_most_once_an_interval(
    broker: BrokerKit,
) -> None:
    async with full_queue(broker) as full:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await full.confirms.publish_until_confirmed(aio_pika.Message(b"second"), "", timeout_s=1.0)
        assert 1.0 <= time.monotonic() - started < 3.0
    gaps = [later - earlier for earlier, later in zip(full.renewals, full.renewals[1:], strict=False)]
    assert len(full.renewals) >= 2
    assert min(gaps) >= RENEW_INTERVAL_S
