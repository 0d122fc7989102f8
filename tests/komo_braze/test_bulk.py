from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterable

import pytest

from komo_braze.bulk import READ_BATCH_LINES, Item, Outgoing, RetryPolicy, Unusable, numbered_lines, publish_all
from komo_braze.envelope import Envelope
from komo_braze.publishing import ConfirmPublisher, envelope_message
from tests.broker import BrokerKit
from tests.proxy import TcpProxy


def outgoing(position: int) -> Outgoing:
    envelope = Envelope.from_komo({"submission_id": f"s-{position}", "site_id": "hub"})
    return Outgoing(position, envelope_message(envelope), envelope.routing_key)


async def stream(items: Iterable[Item]) -> AsyncIterator[Item]:
    for item in items:
        yield item


async def test_every_item_is_accounted_for_and_failures_keep_their_position(broker: BrokerKit) -> None:
    items: list[Item] = [outgoing(n) for n in range(1, 101)]
    items[41] = Unusable(42, "not valid JSON")
    items[6] = Unusable(7, "body has no site_id")
    seen: list[tuple[int, str | None]] = []
    publisher = ConfirmPublisher(broker.settings(), "test")
    publisher.start()
    try:
        assert await publisher.wait_ready(15)
        report = await publish_all(
            publisher, stream(items), max_in_flight=8, on_outcome=lambda item, why: seen.append((item.position, why))
        )
    finally:
        await publisher.close()
    assert report.published == 98
    assert report.failures == [(7, "body has no site_id"), (42, "not valid JSON")]
    assert sorted(position for position, _ in seen) == list(range(1, 101))
    messages = await broker.drain(broker.names.work_queue())
    assert len(messages) == 98
    assert {m.message_id for m in messages} == {f"s-{n}" for n in range(1, 101) if n not in (7, 42)}


async def test_a_broker_outage_in_the_middle_loses_nothing(broker: BrokerKit) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        settings = broker.settings(amqp_url=proxy.url_for(broker.amqp_url), reconnect_interval_s=0.2)
        publisher = ConfirmPublisher(settings, "test")
        publisher.start()

        async def items() -> AsyncIterator[Item]:
            for position in range(1, 301):
                if position == 150:
                    proxy.cut()
                    asyncio.get_running_loop().call_later(0.5, proxy.restore)
                yield outgoing(position)
                await asyncio.sleep(0)

        try:
            assert await publisher.wait_ready(15)
            report = await publish_all(
                publisher, items(), max_in_flight=32, policy=RetryPolicy(attempts=5, ready_wait_s=10, backoff_s=0.05)
            )
        finally:
            await publisher.close()
        assert proxy.accepted >= 2, "the publisher reconnected in the middle"
    assert report.failures == []
    assert report.published == 300
    messages = await broker.drain(broker.names.work_queue())
    # a confirm lost with the connection is retried, so a message may be there twice: never missing
    assert {m.message_id for m in messages} == {f"s-{n}" for n in range(1, 301)}


async def test_in_flight_must_be_positive(broker: BrokerKit) -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        await publish_all(ConfirmPublisher(broker.settings(), "test"), stream([]), max_in_flight=0)


async def test_numbered_lines_pass_over_blank_lines_and_keep_counting_them() -> None:
    source = io.BytesIO(b'{"a": 1}\n\n   \n{"b": 2}\n{"c": 3}')
    lines = [pair async for pair in numbered_lines(source)]
    assert lines == [(1, b'{"a": 1}\n'), (4, b'{"b": 2}\n'), (5, b'{"c": 3}')]


async def test_numbered_lines_read_on_across_batches() -> None:
    count = READ_BATCH_LINES * 2 + 3
    source = io.BytesIO(b"".join(b"%d\n" % n for n in range(1, count + 1)))
    lines = [pair async for pair in numbered_lines(source)]
    assert len(lines) == count
    assert lines[-1] == (count, b"%d\n" % count)
    assert all(line == b"%d\n" % position for position, line in lines)


async def test_numbered_lines_read_no_further_batch_once_shutdown_is_set() -> None:
    shutdown = asyncio.Event()
    source = io.BytesIO(b"x\n" * (READ_BATCH_LINES * 3))
    positions = []
    async for position, _line in numbered_lines(source, shutdown):
        positions.append(position)
        shutdown.set()
    assert positions == list(range(1, READ_BATCH_LINES + 1))


def test_an_item_names_its_submission_and_the_hub_of_its_routing_key() -> None:
    item = outgoing(3)
    assert item.ids() == {"submission_id": "s-3", "hub_id": "hub"}
    assert Outgoing(4, item.message, "").ids() == {"submission_id": "s-3", "hub_id": None}  # a dead letter's key
