"""Publish many messages with confirms, many in flight at once, and account for every one of them.

The caller turns its input (NDJSON Komo bodies for ``publish``, exported dead letters for
``dlq import``) into :class:`Outgoing` items, or :class:`Unusable` ones for input that cannot become a
message; :func:`publish_all` publishes them through a :class:`ConfirmPublisher` with at most
``max_in_flight`` unconfirmed, retries what the broker could not take for a passing reason, and returns
a :class:`BulkReport` naming the position (line number) and reason of everything that failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import aio_pika

from komo_braze.envelope import ROUTING_PREFIX
from komo_braze.logs import get_logger
from komo_braze.publish_errors import BrokerUnavailable, PublishFailed
from komo_braze.publishing import ConfirmPublisher

log = get_logger(__name__)

#: lines read per trip to the reading thread: the event loop never blocks on input
READ_BATCH_LINES = 512


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish; ``position`` is where it came from (a line number)."""

    position: int
    message: aio_pika.Message
    routing_key: str
    size_bytes: int = 0

    def ids(self) -> dict[str, str | None]:
        """``submission_id`` and ``hub_id`` for its log events (a hub is known from a ``hub.<id>`` key)."""
        key = self.routing_key
        hub_id = key.removeprefix(ROUTING_PREFIX) if key.startswith(ROUTING_PREFIX) else None
        return {"submission_id": self.message.message_id, "hub_id": hub_id}


@dataclass(frozen=True, slots=True)
class Unusable:
    """Input that cannot become a message; reported and skipped."""

    position: int
    reason: str
    size_bytes: int = 0


Item = Outgoing | Unusable


@dataclass
class BulkReport:
    """``republished``: messages published again after the connection to their node was lost (or their
    confirm did not come) while they were in flight; the first copy may have arrived, so each may be
    there twice."""

    published: int = 0
    republished: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def rate_per_s(self) -> float:
        return self.published / self.duration_s if self.duration_s > 0 else 0.0


#: called once per item when its fate is known: the item, and the reason it failed (``None``: published)
Outcome = Callable[[Item, str | None], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one message: ``attempts`` in all, waiting up to ``ready_wait_s`` for the broker
    to come back between attempts, and ``backoff_s`` (doubling) after a refusal."""

    attempts: int = 5
    ready_wait_s: float = 30.0
    backoff_s: float = 0.5


@dataclass(frozen=True, slots=True)
class Attempts:
    """How one item ended: ``reason`` it failed (``None``: confirmed); ``in_doubt``: an earlier attempt
    was lost with its connection, so the broker may hold a copy from it too."""

    reason: str | None
    in_doubt: bool = False


async def publish_with_retry(publisher: ConfirmPublisher, item: Outgoing, policy: RetryPolicy) -> Attempts:
    """Publish one item, retrying what may pass (a lost node: the next attempt goes to another)."""
    in_doubt = False
    for attempt in range(1, policy.attempts + 1):
        try:
            await publisher.publish(item.message, item.routing_key)
        except PublishFailed as exc:
            if not exc.retryable or attempt == policy.attempts:
                return Attempts(exc.reason, in_doubt)
            # unavailable after we sent it (connection lost, no confirm): it may have arrived all the same
            in_doubt = in_doubt or (isinstance(exc, BrokerUnavailable) and exc.after_sending)
            log.info("publish_retry", position=item.position, attempt=attempt, reason=exc.reason, **item.ids())
            if not await publisher.wait_ready(policy.ready_wait_s):
                return Attempts(exc.reason, in_doubt)
            await asyncio.sleep(policy.backoff_s * 2 ** (attempt - 1))
        else:
            return Attempts(None, in_doubt)
    return Attempts("no attempt made")  # pragma: no cover - attempts >= 1


async def publish_all(
    publisher: ConfirmPublisher,
    items: AsyncIterable[Item],
    *,
    max_in_flight: int = 256,
    policy: RetryPolicy | None = None,
    on_outcome: Outcome | None = None,
) -> BulkReport:
    """Publish every :class:`Outgoing` item, at most ``max_in_flight`` unconfirmed at a time."""
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    policy = policy or RetryPolicy()
    report = BulkReport()
    slots = asyncio.Semaphore(max_in_flight)
    started = time.perf_counter()

    def settle(item: Item, reason: str | None, *, in_doubt: bool = False) -> None:
        if reason is None:
            report.published += 1
            report.republished += in_doubt
        else:
            report.failures.append((item.position, reason))
        if on_outcome is not None:
            on_outcome(item, reason)

    async def publish_one(item: Outgoing) -> None:
        try:
            attempts = await publish_with_retry(publisher, item, policy)
            settle(item, attempts.reason, in_doubt=attempts.in_doubt)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as tasks:
        async for item in items:
            if isinstance(item, Unusable):
                settle(item, item.reason)
                continue
            await slots.acquire()  # bounded: each publish below holds one slot until it is settled
            tasks.create_task(publish_one(item))
    report.failures.sort()
    report.duration_s = time.perf_counter() - started
    return report


def _read_batch(stream: BinaryIO) -> list[bytes]:
    lines = []
    for _ in range(READ_BATCH_LINES):
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    return lines


async def numbered_lines(stream: BinaryIO, shutdown: asyncio.Event | None = None) -> AsyncIterator[tuple[int, bytes]]:
    """The lines of an NDJSON stream with their line numbers (from 1), read in a thread a batch at a time.

    Blank lines are passed over (they still count in the numbering); once ``shutdown`` is set no further
    batch is read.
    """
    position = 0
    while shutdown is None or not shutdown.is_set():
        lines = await asyncio.to_thread(_read_batch, stream)
        if not lines:
            return
        for line in lines:
            position += 1
            if line.strip():
                yield position, line
