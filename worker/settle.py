"""Settling a delivery: ack it, or dead-letter it (publish with confirm, then ack).

The one place the worker acks. A delivery whose channel has closed since it arrived (connection loss,
``consumer_timeout``, a hold-limit hand-back) cannot be acked any more: the broker has already put it
back on the queue, and it will be delivered again; :attr:`Delivery.stale` says so, and nothing here
pretends otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import aio_pika.exceptions
import aiormq.exceptions
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from komo_braze.envelope import Envelope
from komo_braze.logs import get_logger
from worker.deadletter import ErrorKind, build_dead_letter, publish_dead_letter
from worker.metrics import WorkerMetrics

log = get_logger(__name__)

_CHANNEL_GONE = (
    aio_pika.exceptions.ChannelInvalidStateError,
    aio_pika.exceptions.ChannelClosed,
    aiormq.exceptions.AMQPError,
    ConnectionError,
)


@dataclass(eq=False)
class Delivery:
    """One message as consumed from a work queue, until it is settled."""

    message: AbstractIncomingMessage
    queue_workspace: str  # the workspace whose queue it came from
    received_monotonic_s: float = field(default_factory=time.monotonic)
    envelope: Envelope | None = None
    tracker: AckTracker | None = None
    settled: bool = False

    @property
    def stale(self) -> bool:
        """Its channel is gone: the broker has requeued it, acking is impossible."""
        try:
            return bool(self.message.channel.is_closed)
        except _CHANNEL_GONE:  # aio-pika raises once the channel is closed
            return True

    @property
    def attempts(self) -> int:
        count = (self.message.headers or {}).get("x-delivery-count")
        return (count if isinstance(count, int) else 0) + 1

    def mark_settled(self) -> None:
        self.settled = True
        if self.tracker is not None:
            self.tracker.forget(self)


class AckTracker:
    """The unsettled deliveries of one consumer, in delivery order.

    Acking a batch of deliveries that are the oldest unsettled ones takes a single ``basic.ack`` with
    ``multiple``; the others are acked one by one, at once (never held back behind an older message).
    """

    def __init__(self) -> None:
        self._unsettled: dict[int, Delivery] = {}

    def track(self, delivery: Delivery) -> None:
        delivery.tracker = self
        self._unsettled[id(delivery)] = delivery

    def forget(self, delivery: Delivery) -> None:
        self._unsettled.pop(id(delivery), None)

    def clear(self) -> list[Delivery]:
        """Forget everything (the channel is closing); returns what was unsettled."""
        left = [d for d in self._unsettled.values() if not d.settled]
        self._unsettled.clear()
        return left

    def oldest_age_s(self) -> float:
        now = time.monotonic()
        for delivery in self._unsettled.values():
            if not delivery.stale:
                return now - delivery.received_monotonic_s
        return 0.0

    async def ack(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Ack ``deliveries`` (all of this tracker); returns those acked (a closed channel loses the rest)."""
        wanted = {id(d) for d in deliveries if not d.settled}
        prefix: list[Delivery] = []
        for delivery in self._unsettled.values():
            if id(delivery) in wanted:
                prefix.append(delivery)
            elif not delivery.stale:
                break
        prefix = [d for d in prefix if not d.stale]
        acked: list[Delivery] = []
        if len(prefix) > 1 and await _send_ack(prefix[-1], multiple=True):
            for delivery in prefix:
                delivery.mark_settled()
            acked += prefix
        for delivery in deliveries:
            if not delivery.settled and await _send_ack(delivery, multiple=False):
                acked.append(delivery)
            delivery.mark_settled()
        return acked


async def _send_ack(delivery: Delivery, *, multiple: bool) -> bool:
    try:
        await delivery.message.ack(multiple=multiple)
    except asyncio.CancelledError:
        raise
    except (*_CHANNEL_GONE, aio_pika.exceptions.MessageProcessError):
        log.warning("ack_lost", workspace=delivery.queue_workspace, reason="channel closed, will be redelivered")
        return False
    return True


class Settler:
    def __init__(self, dead_exchange: AbstractExchange, publish_timeout_s: float, metrics: WorkerMetrics) -> None:
        self._dead_exchange = dead_exchange
        self._publish_timeout_s = publish_timeout_s
        self._metrics = metrics

    async def ack(self, delivery: Delivery) -> bool:
        """Ack; False when the channel is gone (the broker redelivers it)."""
        return bool(await self.ack_many([delivery]))

    async def ack_many(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Ack several (as few frames as their order allows); returns those acked."""
        by_tracker: dict[int, tuple[AckTracker | None, list[Delivery]]] = {}
        for delivery in deliveries:
            if not delivery.settled:
                by_tracker.setdefault(id(delivery.tracker), (delivery.tracker, []))[1].append(delivery)
        acked: list[Delivery] = []
        for tracker, group in by_tracker.values():
            if tracker is None:
                tracker = AckTracker()
                for delivery in group:
                    tracker.track(delivery)
            acked += await tracker.ack(group)
        counts: dict[str, int] = {}
        for delivery in acked:
            counts[delivery.queue_workspace] = counts.get(delivery.queue_workspace, 0) + 1
        for workspace, count in counts.items():
            self._metrics.acked.labels(workspace).inc(count)
        return acked

    async def dead_letter(
        self, delivery: Delivery, kind: ErrorKind, detail: str, *, workspace: str, attempts: int | None = None
    ) -> bool:
        """Publish the original envelope to the dead-letter exchange with confirm, then ack it.

        If the publish fails the message is not acked: it goes back to the queue (nack) and its delivery
        count grows, so the broker's own ``x-delivery-limit`` remains the backstop.
        """
        if delivery.settled or delivery.stale:
            return False
        message = delivery.message
        letter = build_dead_letter(
            message.body,
            message,
            kind=kind,
            detail=detail,
            attempts=attempts if attempts is not None else delivery.attempts,
            hub_id=delivery.envelope.hub_id if delivery.envelope else None,
            workspace=workspace,
        )
        try:
            await publish_dead_letter(self._dead_exchange, letter, self._publish_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("dead_letter_publish_failed", workspace=workspace, kind=kind.value, error=type(exc).__name__)
            with contextlib.suppress(*_CHANNEL_GONE):
                await message.nack(requeue=True)
            delivery.mark_settled()
            return False
        log.warning(
            "dead_lettered",
            workspace=workspace,
            kind=kind.value,
            detail=detail[:200],
            submission_id=delivery.envelope.submission_id if delivery.envelope else message.message_id,
        )
        self._metrics.dead_lettered.labels(workspace, kind.value).inc()
        return await self.ack(delivery)
