from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aio_pika
import pytest

from komo_braze.deadletter import ErrorKind, build_dead_letter
from komo_braze.envelope import Envelope
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.dlq.letters import BASE_TIME, fill, message_ids, read_queue
from worker.dlq.filters import LetterFilter
from worker.dlq.metrics import DlqMetrics
from worker.dlq.move import Action, MoveReport, move
from worker.dlq.pipeline import Destination
from worker.dlq.reader import DeadLetterReader


async def run_move(
    broker: BrokerKit, letter_filter: LetterFilter, action: Action, **options: object
) -> tuple[MoveReport, DlqMetrics]:
    metrics = DlqMetrics()
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        async with DeadLetterReader(connection, broker.names.dead_queue) as reader:
            report = await move(
                reader,
                letter_filter,
                action,
                destination=Destination(channel, broker.names.exchange),
                metrics=metrics,
                shutdown=asyncio.Event(),
                **options,  # type: ignore[arg-type]
            )
    return report, metrics


async def test_replay_moves_what_matches_and_leaves_the_rest_in_order(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 300)
    chosen = LetterFilter.build(kinds=["braze_rejected"], hubs=["hub-a", "hub-b"])
    report, metrics = await run_move(broker, chosen, Action.REPLAY)

    expected = [s for s in specs if s.kind == "braze_rejected" and s.hub in ("hub-a", "hub-b")]
    assert (report.scanned, report.matched, report.moved, report.failed) == (300, len(expected), len(expected), 0)
    assert metrics.replayed.labels(kind="braze_rejected")._value.get() == len(expected)
    replayed = await broker.drain(broker.names.work_queue())
    assert message_ids(replayed) == [s.submission_id for s in expected]
    stayed = await broker.drain(broker.names.dead_queue)
    assert message_ids(stayed) == [s.submission_id for s in specs if s not in expected]


async def test_a_replayed_message_is_a_new_submission_with_its_last_error_kept(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 1)
    await run_move(broker, LetterFilter(), Action.REPLAY)
    await run_move(broker, LetterFilter(), Action.REPLAY)  # nothing left: a second run moves nothing
    [message] = await broker.drain(broker.names.work_queue())
    headers = message.headers
    assert message.routing_key == "hub.hub-a"
    assert message.message_id == "sub-000000"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert headers["x-replay-count"] == 1
    assert isinstance(headers["x-replayed-at"], str)
    assert headers["x-last-error-kind"] == "braze_rejected"
    assert headers["x-last-failed-at"] == "2026-11-01T00:00:00.000Z"
    assert not {"x-error-kind", "x-error-detail", "x-hub-id", "x-workspace"} & set(headers)
    assert headers.get("x-delivery-count", 0) == 0  # a new life on the work queue
    assert Envelope.decode(message.body).submission_id == "sub-000000"


@pytest.mark.parametrize(
    ("letter_filter", "expected_n"),
    [
        (LetterFilter.build(workspaces=["client_b"]), [0, 5, 10, 15]),
        (LetterFilter.build(ids=["sub-000003", "sub-000011"]), [3, 11]),
        (LetterFilter.build(since=BASE_TIME + timedelta(minutes=17)), [17, 18, 19]),
        (LetterFilter.build(until=BASE_TIME + timedelta(minutes=1)), [0, 1]),
        (LetterFilter.build(kinds=["unmapped_hub"], limit=3), [2, 5, 8]),
    ],
)
async def test_each_filter_replays_exactly_its_letters(
    broker: BrokerKit, letter_filter: LetterFilter, expected_n: list[int]
) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 20)
    report, _ = await run_move(broker, letter_filter, Action.REPLAY)
    assert report.moved == len(expected_n)
    replayed = await broker.drain(broker.names.work_queue())
    assert message_ids(replayed) == [f"sub-{n:06d}" for n in expected_n]
    assert await broker.count(broker.names.dead_queue) == 20 - len(expected_n)


async def test_a_dry_run_changes_nothing_not_even_the_order(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 2000)
    report, _ = await run_move(broker, LetterFilter.build(hubs=["hub-c"]), Action.DRY_RUN)
    assert report.matched == sum(1 for s in specs if s.hub == "hub-c")
    assert (report.moved, report.left) == (0, 2000)
    assert await broker.count(broker.names.work_queue()) == 0
    stayed = await broker.drain(broker.names.dead_queue)
    assert message_ids(stayed) == [s.submission_id for s in specs]


async def test_purge_with_a_filter_removes_only_what_matches(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 150)
    report, metrics = await run_move(broker, LetterFilter.build(kinds=["no_identifier"], hubs=["hub-c"]), Action.PURGE)
    gone = [s for s in specs if s.kind == "no_identifier" and s.hub == "hub-c"]
    assert report.moved == len(gone) > 0
    assert metrics.purged.labels(kind="no_identifier")._value.get() == len(gone)
    assert await broker.count(broker.names.work_queue()) == 0
    stayed = await broker.drain(broker.names.dead_queue)
    assert message_ids(stayed) == [s.submission_id for s in specs if s not in gone]


async def test_an_unconfirmed_copy_leaves_its_dead_copy_in_place(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 30)
        channel = await connection.channel()
        await channel.queue_delete(broker.names.work_queue())  # nothing takes the copies: the broker returns them
    report, metrics = await run_move(broker, LetterFilter(), Action.REPLAY, max_in_flight=5)
    assert report.moved == 0
    assert report.failed >= 1
    assert report.failure is not None
    assert "unroutable" in report.failure
    assert metrics.failures._value.get() == report.failed
    stayed = await broker.drain(broker.names.dead_queue)
    assert message_ids(stayed) == [s.submission_id for s in specs]


async def test_a_letter_without_a_hub_is_not_replayed(broker: BrokerKit) -> None:
    await broker.declare()
    garbage = build_dead_letter(
        b"not an envelope",
        None,
        kind=ErrorKind.INVALID_SUBMISSION,
        detail="bad",
        attempts=1,
        hub_id=None,
        workspace=None,
    )
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.dead_exchange)
        await exchange.publish(garbage, routing_key="")
    report, _ = await run_move(broker, LetterFilter(), Action.REPLAY)
    assert (report.unroutable, report.moved) == (1, 0)
    assert await broker.count(broker.names.dead_queue) == 1


async def test_a_rate_spaces_the_replays(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 21)
    started = time.monotonic()
    report, _ = await run_move(broker, LetterFilter(), Action.REPLAY, rate_per_s=40.0)
    assert report.moved == 21
    assert time.monotonic() - started >= 0.45  # 20 intervals of 25 ms


async def test_a_letter_that_fails_again_during_the_run_is_not_replayed_twice(broker: BrokerKit) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        await fill(connection, broker.prefix, 20)
        # a stand-in for a worker whose mapping is still broken: every replayed message dies again at once
        channel = await connection.channel(publisher_confirms=True)
        dead_exchange = await channel.get_exchange(broker.names.dead_exchange)
        work = await channel.declare_queue(broker.names.work_queue(), passive=True)

        async def fail_again(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            again = build_dead_letter(
                message.body,
                message,
                kind=ErrorKind.NO_IDENTIFIER,
                detail="still",
                attempts=1,
                hub_id="x",
                workspace=None,
            )
            await dead_exchange.publish(again, routing_key="")
            await message.ack()

        await work.consume(fail_again)
        report, _ = await run_move(broker, LetterFilter(), Action.REPLAY, max_in_flight=1)

        async def all_dead_again() -> bool:  # the stand-in may still be at work when the move has ended
            dead = await channel.declare_queue(broker.names.dead_queue, passive=True)
            return (dead.declaration_result.message_count or 0) >= 20

        await eventually(all_dead_again, what="the 20 replayed letters dead-lettered again")
        await channel.close()
    assert report.moved == 20
    letters = await read_queue_after(broker)
    assert len(letters) == 20
    assert all(letter.replay_count == 1 for letter in letters)


async def read_queue_after(broker: BrokerKit) -> list:  # type: ignore[type-arg]
    async with broker.connection() as connection:
        return await read_queue(connection, broker.names.dead_queue)
