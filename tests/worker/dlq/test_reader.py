from __future__ import annotations

import pytest

from tests.broker import BrokerKit
from tests.worker.dlq.letters import fill, message_ids
from worker.dlq.reader import MAX_CONSUMERS, DeadLetterReader, QueueBusy, prefetch_for_depth


async def test_reading_every_letter_leaves_the_queue_as_it_was(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 3000)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=200) as reader:
            seen = [held.letter.submission_id async for held in reader.letters()]
            assert reader.held == 3000  # 15 consumers of 200, all held at once
    assert seen == [s.submission_id for s in specs]
    assert message_ids(await broker.drain(broker.names.dead_queue)) == seen


async def test_acked_letters_go_and_the_others_keep_their_order(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 1200)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=100) as reader:
            async for held in reader.letters():
                if held.position % 3 == 0:
                    reader.claim(held)
                    await reader.ack(held)
            assert reader.seen == 1200
    expected = [s.submission_id for i, s in enumerate(specs, start=1) if i % 3]
    remaining = await broker.drain(broker.names.dead_queue)
    assert message_ids(remaining) == expected


async def test_a_queue_deeper_than_the_reader_can_hold_is_read_up_to_the_limit_and_left_intact(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 400)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=10) as reader:
            seen = [held.letter.submission_id async for held in reader.letters()]
            assert reader.capacity_reached
    assert len(seen) == MAX_CONSUMERS * 10
    assert seen == [s.submission_id for s in specs[: len(seen)]]
    remaining = await broker.drain(broker.names.dead_queue)
    assert message_ids(remaining) == [s.submission_id for s in specs]


async def test_letters_dead_lettered_while_reading_are_not_read(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 50)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=20) as reader:
            seen = []
            async for held in reader.letters():
                seen.append(held.letter.submission_id)
                if held.position == 1:
                    await fill(connection, broker.prefix, 10, start=1000)
    assert len(seen) == 50
    assert "sub-001000" not in seen
    remaining = await broker.drain(broker.names.dead_queue)
    assert len(remaining) == 60
    assert remaining[-1].message_id == "sub-001009"


async def test_a_second_reader_is_refused_while_one_reads(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 5)
        async with DeadLetterReader(connection, broker.names.dead_queue) as reader:
            async for _ in reader.letters():
                break
            with pytest.raises(QueueBusy):
                async with DeadLetterReader(connection, broker.names.dead_queue):
                    pass
    assert await broker.count(broker.names.dead_queue) == 5


def test_the_prefetch_grows_with_the_depth_within_the_protocol_limit() -> None:
    assert prefetch_for_depth(0) == 1000
    assert prefetch_for_depth(1_000_000) == 41_667
    assert prefetch_for_depth(10_000_000) == 65_535


async def test_a_short_read_after_a_full_one_keeps_the_order(broker: BrokerKit) -> None:
    # after a full read every letter sits among the broker's returned messages; a letter returned again
    # goes behind those, so a reader that stops early must read on to the end of them before it closes
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 1500)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=200) as reader:
            assert len([held async for held in reader.letters()]) == 1500
        for stop_after in (3, 450, 1):
            async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=200) as reader:
                async for held in reader.letters():
                    if held.position == stop_after:
                        break
    assert message_ids(await broker.drain(broker.names.dead_queue)) == [s.submission_id for s in specs]


async def test_a_short_read_of_letters_never_read_returns_them_at_once(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 3000)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=200) as reader:
            async for held in reader.letters():
                if held.position == 10:
                    break
        assert reader.seen < 3000  # fresh letters follow the ones read: no need to read on
    assert message_ids(await broker.drain(broker.names.dead_queue)) == [s.submission_id for s in specs]
