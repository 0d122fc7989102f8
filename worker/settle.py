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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika.exceptions

from komo_braze.amqp_adapter import DeliveredMessage
from komo_braze.confirm_channel import ConfirmChannel
from komo_braze.deadletter import ErrorKind, build_dead_letter
from komo_braze.envelope import Envelope
from komo_braze.logs import get_logger
from worker.metrics import WorkerMetrics

log = get_logger(__name__)

_CHANNEL_GONE = (
    aio_pika.exceptions.ChannelInvalidStateError,
    aio_pika.exceptions.ChannelClosed,
    aio_pika.exceptions.AMQPError,  # aiormq's, which aio-pika re-exports
    ConnectionError,
)


@dataclass(eq=False, slots=True)
class Delivery:
    """One message as consumed from a work queue, until it is settled.

    It holds aiormq's delivered message as it is: the worker consumes on the channel underneath
    aio-pika's (:mod:`komo_braze.amqp_adapter`), so that no per-message wrapper is built (a third of a
    plain aio-pika consumer's cost).
    """

    message: DeliveredMessage
    queue_workspace: str  # the workspace whose queue it came from
    received_monotonic_s: float = field(default_factory=time.monotonic)
    envelope: Envelope | None = None
    tracker: AckTracker | None = None
    settled: bool = False

    @property
    def stale(self) -> bool:
        """Its channel is gone: the broker has requeued it, acking is impossible."""
        return bool(self.message.channel.is_closed)

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.message.header.properties.headers or {})

    @property
    def attempts(self) -> int:
        count = self.headers.get("x-delivery-count")
        return (count if isinstance(count, int) else 0) + 1

    @property
    def delivery_tag(self) -> int:
        tag = getattr(self.message.delivery, "delivery_tag", None)
        return tag if isinstance(tag, int) else 0

    def ids(self) -> dict[str, str | None]:
        """``submission_id`` and ``hub_id`` for its log events (the message id when it is no envelope)."""
        if self.envelope is not None:
            return {"submission_id": self.envelope.submission_id, "hub_id": self.envelope.hub_id}
        return {"submission_id": self.message.header.properties.message_id, "hub_id": None}

    def properties(self) -> aio_pika.Message:
        """The original's properties (headers, message id, timestamp), for its dead letter."""
        props = self.message.header.properties
        return aio_pika.Message(
            self.message.body, headers=self.headers, message_id=props.message_id, timestamp=props.timestamp
        )

    def mark_settled(self) -> None:
        self.settled = True
        if self.tracker is not None:
            self.tracker.forget(self)


class AckTracker:
    """The unsettled deliveries of one consumer, in delivery order, and their acks.

    Deliveries Braze accepted are acked in as few frames as their order allows: whenever the oldest
    unsettled ones are all accepted, one ``basic.ack`` with ``multiple`` settles them. An accepted
    delivery behind an older unsettled one waits for :meth:`flush` (the consumer calls it every
    ``ACK_DELAY_S`` while any wait, and before its channel closes), then is acked on its own.
    """

    ACK_DELAY_S = 0.05

    def __init__(self, on_acked: Callable[[int], None] | None = None) -> None:
        # insertion-ordered sets: a Delivery hashes by identity
        self._unsettled: dict[Delivery, None] = {}
        self._accepted: dict[Delivery, None] = {}
        self._on_acked = on_acked

    def track(self, delivery: Delivery) -> None:
        delivery.tracker = self
        self._unsettled[delivery] = None

    def forget(self, delivery: Delivery) -> None:
        self._unsettled.pop(delivery, None)
        self._accepted.pop(delivery, None)

    @property
    def waiting(self) -> int:
        """Accepted deliveries not acked yet."""
        return len(self._accepted)

    def clear(self) -> list[Delivery]:
        """Forget everything (the channel is closing); returns what was unsettled."""
        left = [d for d in self._unsettled if not d.settled]
        self._unsettled.clear()
        self._accepted.clear()
        return left

    def oldest_age_s(self) -> float:
        now = time.monotonic()
        for delivery in self._unsettled:
            if not delivery.stale and delivery not in self._accepted:
                return now - delivery.received_monotonic_s
        return 0.0

    async def ack(self, deliveries: list[Delivery], *, defer: bool = True) -> None:
        """Ack ``deliveries`` (all of this tracker): now if they are the oldest, else at the next flush
        (or at once with ``defer=False``). A closed channel loses them: the broker redelivers them."""
        for delivery in deliveries:
            if not delivery.settled:
                self._accepted[delivery] = None
        await self._ack_prefix()
        if not defer:
            await self._ack_each(deliveries)

    async def flush(self) -> None:
        """Ack every accepted delivery still waiting."""
        await self._ack_prefix()
        await self._ack_each(list(self._accepted))

    async def _ack_prefix(self) -> None:
        prefix: list[Delivery] = []
        for delivery in self._unsettled:
            if delivery in self._accepted:
                prefix.append(delivery)
            elif not delivery.stale:
                break
        live = [d for d in prefix if not d.stale]
        # settled before the await: a concurrent flush must never ack a tag twice (the broker would close
        # the channel, and requeue everything unacked on it)
        for delivery in prefix:
            delivery.mark_settled()
        if live and await _send_ack(live[-1], multiple=len(live) > 1):
            self._acked(len(live))

    async def _ack_each(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if delivery.settled:
                continue
            delivery.mark_settled()
            if not delivery.stale and await _send_ack(delivery, multiple=False):
                self._acked(1)

    def _acked(self, count: int) -> None:
        if self._on_acked is not None:
            self._on_acked(count)


async def _send_ack(delivery: Delivery, *, multiple: bool) -> bool:
    try:
        await delivery.message.channel.basic_ack(delivery.delivery_tag, multiple=multiple)
    except asyncio.CancelledError:
        raise
    except (*_CHANNEL_GONE, aio_pika.exceptions.MessageProcessError):
        log.warning(
            "ack_lost",
            workspace=delivery.queue_workspace,
            reason="channel closed, will be redelivered",
            **delivery.ids(),
        )
        return False
    return True


class Settler:
    """Acks deliveries, and dead-letters them through ``dead_letters`` (the dead-letter exchange's
    :class:`ConfirmChannel`, which gives way to a fresh channel after a nack)."""

    def __init__(self, dead_letters: ConfirmChannel, publish_timeout_s: float, metrics: WorkerMetrics) -> None:
        self._dead_letters = dead_letters
        self._publish_timeout_s = publish_timeout_s
        self._metrics = metrics

    async def ack(self, delivery: Delivery, *, defer: bool = True) -> bool:
        """Ack one delivery; False when that is no longer possible (settled, or its channel closed)."""
        return bool(await self.ack_many([delivery], defer=defer))

    async def ack_many(self, deliveries: list[Delivery], *, defer: bool = True) -> list[Delivery]:
        """Ack several, in as few frames as their order allows; returns those handed over for acking
        (the ``messages_acked`` metric counts them as their acks go out)."""
        by_tracker: dict[AckTracker, list[Delivery]] = {}
        for delivery in deliveries:
            if delivery.settled or delivery.stale:
                continue
            if delivery.tracker is None:  # its consumer tracks every delivery on arrival: a bug, said loudly
                raise ValueError("a delivery that no consumer tracks cannot be acked in order")
            by_tracker.setdefault(delivery.tracker, []).append(delivery)
        handed: list[Delivery] = []
        for tracker, group in by_tracker.items():
            await tracker.ack(group, defer=defer)
            handed += group
        return handed

    async def dead_letter(
        self, delivery: Delivery, kind: ErrorKind, detail: str, *, workspace: str, attempts: int | None = None
    ) -> bool:
        """Publish the original envelope to the dead-letter exchange with confirm, then ack it.

        A nacked publish is tried again on a fresh channel for up to the publish timeout. If it still fails
        the message is not acked: it goes back to the queue (nack) and its delivery count grows, so the
        broker's own ``x-delivery-limit`` remains the backstop.
        """
        if delivery.settled or delivery.stale:
            return False
        letter = build_dead_letter(
            delivery.body,
            delivery.properties(),
            kind=kind,
            detail=detail,
            attempts=attempts if attempts is not None else delivery.attempts,
            hub_id=delivery.envelope.hub_id if delivery.envelope else None,
            workspace=workspace,
        )
        try:
            # after a nack, again on a fresh channel rather than back to the queue at once (its docstring says why)
            await self._dead_letters.publish_until_confirmed(letter, "", timeout_s=self._publish_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "dead_letter_publish_failed",
                workspace=workspace,
                kind=kind.value,
                error=type(exc).__name__,
                **delivery.ids(),
            )
            with contextlib.suppress(*_CHANNEL_GONE):
                await delivery.message.channel.basic_nack(delivery.delivery_tag, requeue=True)
            delivery.mark_settled()
            return False
        log.warning(
            "dead_lettered",
            workspace=workspace,
            kind=kind.value,
            detail=detail[:200],
            **delivery.ids(),
        )
        self._metrics.dead_lettered.labels(workspace, kind.value).inc()
        return await self.ack(delivery, defer=False)  # at once: a redelivery would be a second dead letter
