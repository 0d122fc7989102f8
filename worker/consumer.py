"""Consuming one work queue on its own channel, and the hold limit that outlives ``consumer_timeout``.

What RabbitMQ 3.10 does (checked on a node of our own, see ``tests/worker/test_consumer_timeout.py``):
a delivery left unacked longer than ``consumer_timeout`` (checked on each channel tick) closes its
channel; the quorum queue puts every unacked message of that channel back, in their original order and
ahead of newer ones, and counts the return in ``x-delivery-count``, so ``x-delivery-limit`` would
dead-letter a message held through ten such timeouts. (An explicit ``nack(requeue)`` of many messages,
one by one or ``multiple``, does *not* keep their order; closing the channel does.)

So a consumer never holds a message longer than ``hold_limit_s`` (set below ``consumer_timeout``): when
the oldest unsettled delivery is that old (Braze down, or a long 429 pause), it cancels the consumer and
closes its channel itself, which hands every held message back in order at the cost of one count, and it
does not consume again until the workspaces it feeds can send (the breaker closed by a probe, the pause
over). One outage costs a message one delivery count however long it lasts, per-user order holds, and
nothing is dead-lettered for Braze being down.

The consumer sits on the AMQP channel under aio-pika's robust one (:mod:`komo_braze.amqp_adapter`),
which spares the per-message wrapper aio-pika would build. aio-pika re-opens the channel with its prefetch
after a reconnect and says so through the channel's ``reopen_callbacks``: the consumer consumes again at
once; the watchdog re-establishes a consumer the broker cancelled. Acks go through
:class:`worker.settle.AckTracker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from aio_pika.abc import AbstractChannel, AbstractConnection

from komo_braze import amqp_adapter
from komo_braze.amqp_adapter import DeliveredMessage, RawChannel
from komo_braze.logs import error_fields, get_logger
from komo_braze.shutdown import TICK_S
from worker.metrics import WorkerMetrics
from worker.settle import AckTracker, Delivery

log = get_logger(__name__)

#: a consumer missing this long from an open channel is re-established by us (aio-pika usually does it)
_MISSING_CONSUMER_S = 5.0


class QueueConsumer:
    """Consume ``queue_name`` with ``prefetch``; hand each delivery to ``on_delivery`` synchronously."""

    def __init__(
        self,
        connection: AbstractConnection,
        queue_name: str,
        workspace: str,
        *,
        prefetch: int,
        hold_limit_s: float,
        on_delivery: Callable[[Delivery], None],
        can_resume: Callable[[], bool],
        on_returned: Callable[[], None],
        metrics: WorkerMetrics,
    ) -> None:
        self.queue_name = queue_name
        self.workspace = workspace
        self._connection = connection
        self._prefetch = prefetch
        self._hold_limit_s = hold_limit_s
        self._on_delivery = on_delivery
        self._can_resume = can_resume
        self._on_returned = on_returned
        self._metrics = metrics
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._tracker = AckTracker(metrics.acked.labels(workspace).inc)
        self._consumed = metrics.consumed.labels(workspace)
        self._missing_since: float | None = None
        self._consumer_present = False
        self._stopping = False
        self._consuming = asyncio.Lock()  # one consume at a time: a re-open and the watchdog may both try

    # --- state ----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Consuming right now: connection and channel open, the broker knows our consumer."""
        if self._stopping or self._channel is None or self._consumer_tag is None or not self._connected:
            return False
        return not self._channel.is_closed and self._consumer_present

    async def _look(self) -> None:
        """Is our consumer on the channel's underlying AMQP channel right now? (cached for ``ready``)"""
        raw: RawChannel | None = None
        if self._channel is not None and not self._channel.is_closed and not self._connection.is_closed:
            try:
                async with asyncio.timeout(TICK_S):
                    raw = await amqp_adapter.raw_channel(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # aio-pika raises while the channel is being re-opened
                raw = None
        present = amqp_adapter.is_consuming(raw, self._consumer_tag)
        self._consumer_present = present
        if present:
            self._missing_since = None

    @property
    def _connected(self) -> bool:
        connected = getattr(self._connection, "connected", None)  # a robust connection's "up now" event
        up = connected.is_set() if isinstance(connected, asyncio.Event) else True
        return up and not self._connection.is_closed

    def oldest_age_s(self) -> float:
        return self._tracker.oldest_age_s()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        channel = await self._connection.channel()  # robust: aio-pika re-opens it, with its prefetch
        await channel.set_qos(prefetch_count=self._prefetch)
        await channel.get_queue(self.queue_name, ensure=True)  # fails here if the queue is missing
        self._channel = channel
        amqp_adapter.on_reopen(channel, lambda: self._reopened(channel))
        await self._consume()
        log.info("consuming", queue=self.queue_name, prefetch=self._prefetch)

    async def _consume(self) -> None:
        """Consume on the AMQP channel under the robust one, unless our consumer is already there."""
        async with self._consuming:
            assert self._channel is not None
            raw = await amqp_adapter.raw_channel(self._channel)
            if not amqp_adapter.is_consuming(raw, self._consumer_tag):
                # a plain function on purpose (see _on_message)
                self._consumer_tag = await amqp_adapter.consume(raw, self.queue_name, self._on_message)
            self._missing_since = None
            self._consumer_present = True

    async def _reopened(self, channel: AbstractChannel) -> None:
        """aio-pika re-opened ``channel`` (a reconnect, or the broker closed it): consume again at once."""
        if channel is self._channel and not self._stopping:  # not a channel we closed or replaced
            await self._consume_again()

    async def _consume_again(self) -> bool:
        """What was delivered before is back on the queue: consume afresh on the channel as it is now."""
        try:
            self._on_returned()
            await self._consume()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the watchdog tries again on its next tick
            log.warning("consume_again_failed", queue=self.queue_name, **error_fields(exc))
            return False
        self._metrics.consumer_restarts.labels(self.workspace).inc()
        log.info("consumer_reestablished", queue=self.queue_name)
        return True

    def _on_message(self, message: DeliveredMessage) -> None:
        # synchronous on purpose: aiormq runs it in one task per delivery, started in delivery order,
        # and with no await inside each runs to its end in that order: arrival order stays user order
        delivery = Delivery(message, self.workspace)
        self._tracker.track(delivery)
        self._consumed.inc()
        self._on_delivery(delivery)

    async def flush_acks(self) -> None:
        """Send the acks still waiting (see :class:`AckTracker`)."""
        try:
            await self._tracker.flush()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("ack_flush_failed", queue=self.queue_name, **error_fields(exc))

    async def stop_consuming(self) -> None:
        """Stop taking new messages; what was delivered can still be acked on the open channel."""
        self._stopping = True
        if self._channel is not None and self._consumer_tag is not None and self._connected:
            try:
                async with asyncio.timeout(5.0):
                    await amqp_adapter.cancel(await amqp_adapter.raw_channel(self._channel), self._consumer_tag)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cancel_consumer_failed", queue=self.queue_name, **error_fields(exc))

    async def close(self) -> None:
        """Close the channel: the broker puts every unsettled delivery back, in order."""
        await self.flush_acks()
        channel, self._channel, self._consumer_tag = self._channel, None, None
        returned = self._tracker.clear()
        if channel is not None and not channel.is_closed:
            try:
                async with asyncio.timeout(5.0):
                    await channel.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("close_channel_failed", queue=self.queue_name, **error_fields(exc))
        if returned:
            self._metrics.returned.labels(self.workspace).inc(len(returned))
            log.info("returned_to_queue", queue=self.queue_name, messages=len(returned))

    # --- the watchdog ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``; enforce the hold limit; re-establish a consumer that vanished."""
        await self.start()
        last_look = 0.0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(AckTracker.ACK_DELAY_S if self._tracker.waiting else TICK_S):
                    await stop.wait()
            if stop.is_set():
                break
            await self.flush_acks()
            if time.monotonic() - last_look < TICK_S:
                continue
            last_look = time.monotonic()
            await self._look()
            if self.oldest_age_s() > self._hold_limit_s:
                await self._hand_back(stop)
            elif not self.ready and self._connected:
                await self._check_consumer()

    async def _hand_back(self, stop: asyncio.Event) -> None:
        log.warning(
            "hold_limit_reached",
            queue=self.queue_name,
            hold_limit_s=self._hold_limit_s,
            hint="handing held messages back to the broker until Braze takes requests again",
        )
        await self.stop_consuming()
        await self.close()
        self._on_returned()
        while not stop.is_set() and not self._can_resume():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await stop.wait()
        while not stop.is_set():
            self._stopping = False
            try:
                await self.start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker may be away right now: try again on the next tick
                log.warning("consumer_restart_failed", queue=self.queue_name, **error_fields(exc))
                await self.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK_S):
                        await stop.wait()
                continue
            self._metrics.consumer_restarts.labels(self.workspace).inc()
            log.info("consumer_resumed", queue=self.queue_name)
            return

    async def _check_consumer(self) -> None:
        # the broker cancelled our consumer, or a re-open's consume failed
        if self._channel is not None and not self._channel.is_closed and await self._consume_again():
            return
        now = time.monotonic()
        if self._missing_since is None:
            self._missing_since = now
            return
        if now - self._missing_since < _MISSING_CONSUMER_S:
            return
        log.warning("consumer_missing", queue=self.queue_name, missing_s=round(now - self._missing_since, 1))
        try:
            await self.close()
            self._on_returned()
            await self.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker may be going away again: try on the next tick
            log.warning("consumer_restart_failed", queue=self.queue_name, **error_fields(exc))
            self._missing_since = now
            return
        self._metrics.consumer_restarts.labels(self.workspace).inc()
