"""Failing over between broker addresses, for real: TCP proxies of the test's own in front of the shared
broker stand for the nodes of a cluster, and cutting one is losing that node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import pytest
import structlog

from komo_braze.addresses import redact
from komo_braze.amqp import FailoverConnection, connect, connect_once
from komo_braze.failures import BrokerUnreachable
from tests.broker import BrokerKit
from tests.own_broker import free_port
from tests.proxy import TcpProxy
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(60)


def _with_password(url: str, password: str) -> str:
    return url.replace("guest:guest@", f"guest:{password}@", 1)


async def test_a_robust_connection_skips_an_address_that_does_not_answer(broker: BrokerKit) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    for order in ([dead, broker.amqp_url], [broker.amqp_url, dead]):
        settings = broker.settings(amqp_url=",".join(order))
        connection = await connect(settings, "test-skip")
        try:
            assert isinstance(connection, FailoverConnection)
            assert connection.address == redact(broker.amqp_url)
            channel = await connection.channel()
            await channel.declare_exchange(f"{broker.prefix}.probe", auto_delete=True)
        finally:
            await connection.close()


@dataclass
class TwoNodes:
    """A failover connection over two proxies: the one it uses, and the other."""

    connection: FailoverConnection
    used: TcpProxy
    other: TcpProxy
    other_url: str


@asynccontextmanager
async def two_nodes(broker: BrokerKit) -> AsyncIterator[TwoNodes]:
    async with TcpProxy.for_url(broker.amqp_url) as one, TcpProxy.for_url(broker.amqp_url) as two:
        urls = [one.url_for(broker.amqp_url), two.url_for(broker.amqp_url)]
        connection = await connect(broker.settings(amqp_url=",".join(urls), reconnect_interval_s=0.2), "test-two")
        try:
            used, other, other_url = (one, two, urls[1]) if one.accepted else (two, one, urls[0])
            assert (used.accepted, other.accepted) == (1, 0)
            yield TwoNodes(connection, used, other, other_url)
        finally:
            await connection.close()


async def test_a_robust_connection_moves_to_the_next_node_when_its_node_goes(broker: BrokerKit) -> None:
    async with two_nodes(broker) as nodes:
        channel = await nodes.connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        reconnected = asyncio.Event()
        nodes.connection.reconnect_callbacks.add(lambda *_: reconnected.set())
        nodes.used.cut()
        async with asyncio.timeout(10):
            await reconnected.wait()
        assert nodes.other.accepted == 1
        assert nodes.connection.address == redact(nodes.other_url)
        await channel.default_exchange.publish(aio_pika.Message(b"after"), routing_key=queue.name)
        message = await queue.get(timeout=5, fail=False)
        assert message is not None
        assert message.body == b"after"


async def test_a_robust_connection_comes_back_to_a_node_once_every_other_is_gone(broker: BrokerKit) -> None:
    async with two_nodes(broker) as nodes:
        nodes.other.cut()  # the next node is down too: the connection must wait for either to return
        nodes.used.cut()
        await eventually(lambda: not nodes.connection.connected.is_set())
        await asyncio.sleep(0.5)
        assert not nodes.connection.connected.is_set()
        nodes.used.restore()
        async with asyncio.timeout(10):
            await nodes.connection.connected.wait()
        assert nodes.used.accepted == 2


async def test_a_plain_connection_takes_the_first_address_that_answers(broker: BrokerKit) -> None:
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    connection = await connect_once(broker.settings(amqp_url=f"{dead},{broker.amqp_url}"), "test-plain")
    async with connection:
        channel = await connection.channel()
        assert not channel.is_closed


async def test_no_address_answering_is_an_error_that_logs_no_password(broker: BrokerKit) -> None:
    urls = [_with_password(f"amqp://guest:guest@127.0.0.1:{free_port()}/", "s3cret") for _ in range(2)]
    settings = broker.settings(amqp_url=",".join(urls))
    with structlog.testing.capture_logs() as events:
        with pytest.raises(BrokerUnreachable) as plain:
            await connect_once(settings, "test-none")
        with pytest.raises(BrokerUnreachable) as robust:
            await connect(settings, "test-none")
    failures = [event for event in events if event["event"] == "broker_address_failed"]
    assert len(failures) == 4
    assert "s3cret" not in repr(events)
    assert "s3cret" not in str(plain.value) + str(robust.value)
    assert str(plain.value).startswith(f"broker {redact(urls)} unreachable: ")
    assert {event["broker"] for event in failures} == {redact(url) for url in urls}
