from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
import structlog

from komo_braze.envelope import Envelope
from komo_braze.publish_errors import BrokerUnavailable, PublishRejected, Unroutable
from komo_braze.publishing import ConfirmPublisher, envelope_message
from tests.broker import BrokerKit
from tests.proxy import TcpProxy
from tests.waiting import eventually

BODY = {"submission_id": "sub-1", "site_id": "hub-1", "event": "CompetitionEntrySuccess", "email": "a@b.co"}


@asynccontextmanager
async def running(broker: BrokerKit, **overrides: Any) -> AsyncIterator[ConfirmPublisher]:
    publisher = ConfirmPublisher(broker.settings(reconnect_interval_s=0.2, **overrides), "test")
    publisher.start()
    try:
        assert await publisher.wait_ready(15)
        yield publisher
    finally:
        await publisher.close()


def test_the_message_carries_the_designed_properties() -> None:
    moment = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    message = envelope_message(Envelope.from_komo(BODY, received_at=moment))
    assert message.message_id == "sub-1"
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.timestamp == moment
    assert Envelope.decode(message.body).payload == BODY


async def test_a_confirmed_publish_is_on_the_queue(broker: BrokerKit) -> None:
    async with running(broker) as publisher:
        await publisher.publish_envelope(Envelope.from_komo(BODY))
    [message] = await broker.drain(broker.names.work_queue())
    assert message.message_id == "sub-1"
    assert message.routing_key == "hub.hub-1"


async def test_an_unroutable_message_is_an_error_not_a_silent_drop(broker: BrokerKit) -> None:
    async with running(broker) as publisher:
        async with broker.connection() as connection:
            channel = await connection.channel()
            await channel.queue_delete(broker.names.work_queue())  # nothing left to route to
        with pytest.raises(Unroutable) as raised:
            await publisher.publish_envelope(Envelope.from_komo(BODY))
        assert not raised.value.retryable


async def test_a_nack_from_a_full_queue_is_a_rejection(broker: BrokerKit) -> None:
    full = f"{broker.prefix}.full"
    await broker.declare()
    async with broker.connection() as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            full,
            arguments={"x-max-length": 1, "x-overflow": "reject-publish"},  # classic: the limit is exact
        )
        await queue.bind(broker.names.exchange, routing_key="hub.hub-1")
    try:
        async with running(broker) as publisher:
            await publisher.publish_envelope(Envelope.from_komo(BODY))
            with structlog.testing.capture_logs() as events:
                with pytest.raises(PublishRejected) as raised:
                    await publisher.publish_envelope(Envelope.from_komo({**BODY, "submission_id": "sub-2"}))
                assert raised.value.retryable
                # a nack may come from a channel RabbitMQ 3.10 wedged: the next publishes use a fresh one
                await eventually(lambda: any(e["event"] == "publish_channel_renewed" for e in events))
            async with broker.connection() as connection:
                await (await (await connection.channel()).get_queue(full)).purge()
            await publisher.publish_envelope(Envelope.from_komo({**BODY, "submission_id": "sub-3"}))
    finally:
        async with broker.connection() as connection:
            await (await connection.channel()).queue_delete(full)


async def test_many_publishes_in_flight_at_once_all_confirm(broker: BrokerKit) -> None:
    async with running(broker) as publisher:
        envelopes = [Envelope.from_komo({**BODY, "submission_id": f"s-{n}"}) for n in range(500)]
        await asyncio.gather(*(publisher.publish_envelope(e) for e in envelopes))
    assert await broker.wait_for_count(broker.names.work_queue(), 500) == 500


async def test_while_the_broker_is_away_a_publish_fails_at_once_and_works_again_after(broker: BrokerKit) -> None:
    async with (
        TcpProxy.for_url(broker.amqp_url) as proxy,
        running(broker, amqp_url=proxy.url_for(broker.amqp_url)) as publisher,
    ):
        proxy.cut()
        await asyncio.sleep(0.2)
        assert not publisher.ready
        started = asyncio.get_running_loop().time()
        with pytest.raises(BrokerUnavailable):
            await publisher.publish_envelope(Envelope.from_komo(BODY))
        assert asyncio.get_running_loop().time() - started < 1.0, "no waiting for the reconnection"
        proxy.restore()
        assert await publisher.wait_ready(15)
        await publisher.publish_envelope(Envelope.from_komo(BODY))
    assert await broker.wait_for_count(broker.names.work_queue(), 1) == 1


async def test_a_confirm_that_never_comes_times_out(broker: BrokerKit) -> None:
    async with (
        TcpProxy.for_url(broker.amqp_url) as proxy,
        running(broker, amqp_url=proxy.url_for(broker.amqp_url), publish_timeout_s=0.5) as publisher,
    ):
        proxy.stall()
        with pytest.raises(BrokerUnavailable, match="did not confirm in time") as raised:
            await publisher.publish_envelope(Envelope.from_komo(BODY))
        assert raised.value.after_sending, "the broker may have it: a retry may make a second copy"
        proxy.cut()


async def test_a_publisher_that_never_connected_is_not_ready(broker: BrokerKit) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        proxy.cut()
        publisher = ConfirmPublisher(broker.settings(amqp_url=proxy.url_for(broker.amqp_url)), "test")
        publisher.start()
        try:
            assert not await publisher.wait_ready(0.5)
            with pytest.raises(BrokerUnavailable):
                await publisher.publish_envelope(Envelope.from_komo(BODY))
        finally:
            await publisher.close()


async def test_a_refused_login_is_logged_and_retried_without_the_password(broker: BrokerKit) -> None:
    url = broker.amqp_url.replace("guest:guest@", "guest:wrong-pass-xyz@")
    publisher = ConfirmPublisher(broker.settings(amqp_url=url, reconnect_interval_s=0.1), "test")
    with structlog.testing.capture_logs() as events:
        publisher.start()
        try:
            assert not await publisher.wait_ready(1.0)
        finally:
            await publisher.close()
    failures = [e for e in events if e["event"] == "broker_connect_failed"]
    assert len(failures) >= 2, "it keeps trying"
    assert "wrong-pass-xyz" not in repr(events)
    assert failures[0]["broker"].startswith("amqp://guest:***@")
