"""The ack tracker in isolation: which ``basic.ack`` frames it sends, against a channel that records them.

The channel is the tracker's collaborator, not the broker: the broker's side of acks (what a closed
channel hands back, in which order) is shown on the real broker by ``tests/worker/test_consumer_timeout.py``,
``tests/worker/test_broker_restart.py`` and ``tests/worker/test_outcome_end_to_end.py``.
"""

from __future__ import annotations

import asyncio

import aio_pika.exceptions
import pytest
import structlog

from tests.worker.factories import delivered
from worker.settle import AckTracker, Delivery

pytestmark = pytest.mark.timeout(10)


class RecordingChannel:
    """Records every ``basic.ack`` as ``(delivery_tag, multiple)``; a closed one refuses, as aiormq's does."""

    def __init__(self) -> None:
        self.acks: list[tuple[int, bool]] = []
        self.is_closed = False
        self.closing = False  # closed by the broker, and aiormq has not noticed yet

    async def basic_ack(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
        if self.is_closed or self.closing:
            raise aio_pika.exceptions.ChannelInvalidStateError("channel closed")
        await asyncio.sleep(0)  # a real channel hands the frame to its writer: other tasks run meanwhile
        self.acks.append((delivery_tag, multiple))


def deliveries(channel: RecordingChannel, count: int, tracker: AckTracker) -> list[Delivery]:
    """``count`` deliveries on ``channel``, tags 1..count, tracked in that order."""
    made = [delivered(f"m-{tag}", tag=tag, channel=channel) for tag in range(1, count + 1)]
    for each in made:
        tracker.track(each)
    return made


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def counted() -> list[int]:
    return []


@pytest.fixture
def tracker(counted: list[int]) -> AckTracker:
    return AckTracker(counted.append)


async def test_the_oldest_deliveries_accepted_together_are_acked_in_one_multiple_frame(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    first, second, third, _fourth = deliveries(channel, 4, tracker)
    await tracker.ack([first, second, third])
    assert channel.acks == [(3, True)]
    assert counted == [3]
    assert tracker.waiting == 0


async def test_a_lone_oldest_delivery_is_acked_without_multiple(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    first, _second = deliveries(channel, 2, tracker)
    await tracker.ack([first])
    assert channel.acks == [(1, False)]
    assert counted == [1]


async def test_a_delivery_accepted_behind_an_unsettled_one_waits_for_the_flush_and_goes_alone(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    _first, second, third = deliveries(channel, 3, tracker)
    await tracker.ack([third])
    assert channel.acks == []
    assert tracker.waiting == 1
    await tracker.ack([second])
    assert channel.acks == []  # still behind the first
    await tracker.flush()
    assert channel.acks == [(3, False), (2, False)]  # as accepted; never a multiple: it would settle the first
    assert counted == [1, 1]
    assert tracker.waiting == 0


async def test_once_the_unsettled_head_is_accepted_the_waiting_ones_go_with_it_in_one_frame(
    channel: RecordingChannel, tracker: AckTracker
) -> None:
    first, second, third = deliveries(channel, 3, tracker)
    await tracker.ack([second, third])
    await tracker.ack([first])
    assert channel.acks == [(3, True)]


async def test_without_defer_a_delivery_behind_an_unsettled_one_is_acked_at_once(
    channel: RecordingChannel, tracker: AckTracker
) -> None:
    _first, second = deliveries(channel, 2, tracker)
    await tracker.ack([second], defer=False)
    assert channel.acks == [(2, False)]


async def test_a_tag_is_never_acked_twice_when_acks_and_flushes_overlap(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    made = deliveries(channel, 6, tracker)
    await asyncio.gather(
        tracker.ack(made[3:]), tracker.flush(), tracker.ack(made[:3]), tracker.flush(), tracker.ack(made, defer=False)
    )
    settled: set[int] = set()
    for frame_tag, multiple in channel.acks:
        covered = set(range(1, frame_tag + 1)) - settled if multiple else {frame_tag}
        assert not covered & settled, f"tag acked twice in {channel.acks}"
        settled |= covered
    assert settled == {1, 2, 3, 4, 5, 6}
    assert sum(counted) == 6


async def test_deliveries_of_a_closed_channel_are_not_acked_and_do_not_hold_back_newer_ones(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    old_channel = RecordingChannel()
    [stale] = deliveries(old_channel, 1, tracker)
    old_channel.is_closed = True  # the broker has put it back on the queue
    first, second = deliveries(channel, 2, tracker)
    assert stale.stale
    await tracker.ack([first, second])
    assert channel.acks == [(2, True)]
    assert old_channel.acks == []
    assert counted == [2]


async def test_an_ack_the_closed_channel_refuses_is_logged_as_lost_and_not_counted(
    channel: RecordingChannel, tracker: AckTracker, counted: list[int]
) -> None:
    [delivery] = deliveries(channel, 1, tracker)
    channel.is_closed = True  # closed while the ack was being decided: stale now, so nothing is sent
    await tracker.ack([delivery], defer=False)
    assert channel.acks == []
    assert counted == []

    other = RecordingChannel()
    [late] = deliveries(other, 1, tracker)
    other.closing = True
    with structlog.testing.capture_logs() as events:
        await tracker.ack([late])
    assert [(e["event"], e["submission_id"]) for e in events] == [("ack_lost", "m-1")]
    assert counted == []
    assert late.settled


async def test_the_oldest_age_counts_only_deliveries_still_waiting_for_an_outcome(
    channel: RecordingChannel, tracker: AckTracker
) -> None:
    first, second = deliveries(channel, 2, tracker)
    first.received_monotonic_s -= 100.0
    second.received_monotonic_s -= 10.0
    assert 100.0 <= tracker.oldest_age_s() < 101.0
    await tracker.ack([first])
    assert 10.0 <= tracker.oldest_age_s() < 11.0
    await tracker.ack([second])
    assert tracker.oldest_age_s() == 0.0


async def test_clear_forgets_everything_and_returns_what_was_unsettled(
    channel: RecordingChannel, tracker: AckTracker
) -> None:
    first, second, third = deliveries(channel, 3, tracker)
    await tracker.ack([first])
    await tracker.ack([third])  # accepted, waiting behind the second
    assert tracker.clear() == [second, third]
    assert tracker.waiting == 0
    await tracker.flush()
    assert channel.acks == [(1, False)]
