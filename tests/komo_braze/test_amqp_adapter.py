"""The canary for :mod:`komo_braze.amqp_adapter`: everything it takes from under aio-pika, used for real
on the broker. When an aio-pika or aiormq upgrade moves or renames any of it, this test fails, by name."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq
import pytest
from aio_pika.robust_connection import RobustConnection
from yarl import URL

from komo_braze import amqp_adapter
from komo_braze.amqp import FailoverConnection
from komo_braze.amqp_adapter import TRANSPORT_STEP, DeliveredMessage, TransportStepConnection
from tests.broker import BrokerKit
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(60)


class _CountingConnection(TransportStepConnection):
    def __init__(self, url: str) -> None:
        super().__init__(URL(url))
        self.transports_opened = 0

    async def open_transport(self, open_one: Callable[[], Awaitable[None]]) -> None:
        await open_one()
        self.transports_opened += 1


async def test_everything_the_adapter_takes_from_under_aio_pika_is_still_there(broker: BrokerKit) -> None:
    # the private transport step: still where aio-pika keeps it, and still the one its connect calls
    assert inspect.iscoroutinefunction(getattr(RobustConnection, TRANSPORT_STEP, None)), TRANSPORT_STEP
    assert "open_transport" in FailoverConnection.__dict__
    connection = _CountingConnection(broker.amqp_url)
    await connection.connect(timeout=10)
    try:
        assert connection.transports_opened == 1
        channel = await connection.channel()
        queue = await channel.declare_queue(f"{broker.prefix}.canary", exclusive=True)
        raw = await amqp_adapter.raw_channel(channel)
        assert isinstance(raw, aiormq.Channel)

        # consuming with a plain function; the delivered message's fields the worker and the dlq read
        delivered: list[DeliveredMessage] = []
        tag = await amqp_adapter.consume(raw, queue.name, delivered.append)
        assert amqp_adapter.is_consuming(raw, tag)
        await channel.default_exchange.publish(aio_pika.Message(b"one", message_id="m-1"), queue.name)
        await eventually(lambda: len(delivered) == 1, timeout_s=10)
        [message] = delivered
        assert (message.body, message.header.properties.message_id) == (b"one", "m-1")
        assert (message.consumer_tag, message.delivery_tag, message.redelivered) == (tag, 1, False)
        assert message.channel is raw

        # the broker closes the channel (an unknown delivery tag): aio-pika re-opens it and says so
        reopened = asyncio.Event()

        async def on_reopen() -> None:
            reopened.set()

        amqp_adapter.on_reopen(channel, on_reopen)
        await raw.basic_ack(999, wait=False)
        async with asyncio.timeout(15):
            await reopened.wait()
        assert raw.is_closed
        assert not amqp_adapter.is_consuming(raw, tag)  # the consumer went with the channel
        again = await amqp_adapter.raw_channel(channel)
        assert again is not raw
        assert not amqp_adapter.is_consuming(again, tag)
        tag = await amqp_adapter.consume(again, queue.name, delivered.append)
        await eventually(lambda: len(delivered) == 2, timeout_s=10)  # the unacked one is back, redelivered
        assert (delivered[1].body, delivered[1].redelivered) == (b"one", True)
        await amqp_adapter.cancel(again, tag)
        assert not amqp_adapter.is_consuming(again, tag)

        # publishing without waiting for the flush still waits for the confirm, and a return raises
        confirm = await connection.channel(publisher_confirms=True, on_return_raises=True)
        properties = amqp_adapter.MessageProperties(message_id="m-2")
        await amqp_adapter.publish_unflushed(confirm, b"two", properties, exchange="", routing_key=queue.name)
        assert (await channel.declare_queue(queue.name, passive=True)).declaration_result.message_count == 1
        with pytest.raises(aio_pika.exceptions.PublishError):
            await amqp_adapter.publish_unflushed(
                confirm, b"three", properties, exchange="", routing_key=f"{broker.prefix}.nowhere"
            )
    finally:
        await connection.close()
