"""Walk the dead-letter queue in order, holding what it reads, so that nothing is lost, duplicated or
reordered for good.

Every letter read stays unacked on this channel until the caller acks it (replay, purge) or the reader
closes. What RabbitMQ 3.10 quorum queues do with held messages, checked on the real broker
(``tests/worker/dlq/test_reader.py``): closing the channel (or the process dying, ``kill -9``) hands
them back in the order they were delivered, and handed-back messages are delivered again *ahead of*
messages never delivered, but *behind* messages handed back earlier (the queue keeps returned messages
in a FIFO of their own, served first). So after any read, the queue is "returned letters, then fresh
letters"; a reader that held only the first part of the returned ones would put them behind the rest
and change the order for good. Hence a reader that stops early reads on, holding, to the end of the
returned letters (the first delivery without the ``redelivered`` flag, or the depth) before it closes;
then everything it held goes back exactly where it was. A read that is killed before that point can
move the letters it held behind the other returned ones (nothing is lost or duplicated).

Memory: a consumer's prefetch is the only way to bound what the broker pushes to us, but held letters
count against it, so one consumer can hold at most 65,535. When the current consumer is full of held
letters the reader cancels it (its letters stay held) and opens the next one on the same channel. The
queue returns a channel's held letters consumer by consumer, in consumer-tag order, only while the
channel has at most 32 consumers (beyond that its map of consumers is no longer sorted and the order
of the returned blocks is lost), so the reader uses at most 32 consumers, each with a prefetch sized to
the queue: at most 32 x 65,535 = 2,097,120 letters can be held in one pass. A queue deeper than that is
read up to that point and the reader says so (``capacity_reached``); replay and purge ack what they
move, so only the letters they *leave* count against it. The client buffers at most one prefetch of
letters at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection

from komo_braze import amqp_adapter
from komo_braze.amqp_adapter import DeliveredMessage, RawChannel
from komo_braze.deadletter import DeadLetter
from komo_braze.logs import get_logger
from worker.dlq.acks import AckBatcher
from worker.dlq.held import Consumer, Held

log = get_logger(__name__)

MAX_CONSUMERS = 32
MAX_PREFETCH = 65_535
MIN_PREFETCH = 1_000
#: pause before closing after acks, for the broker to pass the last settlements on (see close())
ACK_SETTLE_S = 0.25
#: longest wait for the broker to put held letters back after the close
RETURN_WAIT_S = 10.0
#: longest read-on to the end of the returned letters (about 10,000 letters a second)
RESTORE_TIMEOUT_S = 600.0


class QueueBusy(Exception):
    """Another consumer is attached to the dead-letter queue: two readers would split it between them."""

    def __init__(self, queue_name: str, consumers: int) -> None:
        super().__init__(f"{consumers} consumer(s) already read {queue_name}; is another dlq command running?")
        self.queue_name = queue_name
        self.consumers = consumers


def prefetch_for_depth(depth: int, minimum: int = MIN_PREFETCH) -> int:
    """A prefetch that lets 24 of the 32 consumers hold ``depth`` letters (8 spare for late arrivals)."""
    return min(MAX_PREFETCH, max(minimum, math.ceil(depth / 24)))


class DeadLetterReader:
    """``async with DeadLetterReader(connection, queue_name) as reader: async for held in reader.letters()``.

    ``depth`` is the number of letters ready when the reader opened; :meth:`letters` reads at most that
    many, so letters dead-lettered while it runs (a replayed letter failing again) are never read twice.
    """

    def __init__(
        self,
        connection: AbstractConnection,
        queue_name: str,
        *,
        prefetch: int | None = None,
        min_prefetch: int = MIN_PREFETCH,
        idle_s: float = 2.0,
    ) -> None:
        self._connection = connection
        self._queue_name = queue_name
        self._prefetch_override = prefetch
        self._min_prefetch = min_prefetch
        self._idle_s = idle_s
        self._tag_prefix = f"komo-dlq-{uuid.uuid4().hex[:8]}"
        self._channel: AbstractChannel | None = None
        self._raw: RawChannel | None = None  # the channel under aio-pika's: consumes and acks
        self._consumers: dict[str, Consumer] = {}
        self._current: Consumer | None = None
        self._inbox: asyncio.Queue[DeliveredMessage] = asyncio.Queue()
        self._settled = asyncio.Event()
        self._acks = AckBatcher()
        self.prefetch = MIN_PREFETCH
        self.depth = 0
        self.seen = 0
        self.acked = 0
        self.fresh_reached = False  # a letter delivered for the first time: no returned ones after it
        self.capacity_reached = False

    async def __aenter__(self) -> DeadLetterReader:
        channel = await self._connection.channel(publisher_confirms=False)
        self._channel = channel
        try:
            queue = await channel.declare_queue(self._queue_name, passive=True)
            self._raw = await amqp_adapter.raw_channel(channel)
            result = queue.declaration_result
            if result.consumer_count:
                raise QueueBusy(self._queue_name, result.consumer_count)
            self.depth = result.message_count or 0
            self.prefetch = self._prefetch_override or prefetch_for_depth(self.depth, self._min_prefetch)
            await channel.set_qos(prefetch_count=self.prefetch)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connection_lost(self) -> bool:
        """True once the broker connection under this reader has gone (it is not robust, on purpose).

        A connection the broker dropped is not ``is_closed`` (that means closed by us): it is no longer
        ``connected``."""
        return self._connection.is_closed or not self._connection.connected.is_set()

    async def close(self) -> None:
        """Close the channel: every letter still held goes back to the head of the queue, in order.

        Before that, when letters were acked, one round trip makes sure the channel has taken every
        ack, and a short pause lets it pass them on to the quorum queue: a quorum queue's client in the
        broker may hold settlements back while many commands are pending, and a channel closed at that
        moment would hand the acked letters back (a replayed letter would then be in both queues).
        """
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError, TimeoutError):
                await self._read_to_end_of_returned()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await self._acks.drain()  # every ack asked for is out (or failed) before the close
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed and self.acked:
            with contextlib.suppress(aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError, TimeoutError):
                async with asyncio.timeout(10):
                    await channel.set_qos(prefetch_count=self.prefetch)
                    await asyncio.sleep(ACK_SETTLE_S)
        if channel is not None and not channel.is_closed:
            # a channel that cannot close cleanly is gone with its connection: the broker returned it all
            with contextlib.suppress(aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError, TimeoutError):
                async with asyncio.timeout(30):
                    await channel.close()
                await self._wait_returned()

    async def _wait_returned(self) -> None:
        """Wait until the broker has put the held letters back (it does so a moment after the close).

        A command that starts reading before that would take the returned letters in a different order
        and hand them back that way: the order would change for good. So a command ends only once the
        queue has at least as many ready letters as it had at the start, less those acked.
        """
        if not self.seen:
            return
        expected = self.depth - self.acked
        async with asyncio.timeout(RETURN_WAIT_S):
            ready = await self._ready_count()
            while ready < expected:
                await asyncio.sleep(0.05)
                ready = await self._ready_count()

    @property
    def held(self) -> int:
        """Letters read and not acked (they go back when the reader closes)."""
        return sum(c.unacked for c in self._consumers.values())

    def claim(self, held: Held) -> None:
        """The caller means to ack ``held`` soon (its replayed copy is being published)."""
        held.consumer.claimed += 1
        held.settling = True

    def unclaim(self, held: Held) -> None:
        """The caller will not ack ``held`` after all: it stays held and goes back at the end."""
        held.consumer.claimed -= 1
        held.settling = False
        self._acks.left(held.message.delivery_tag or 0)
        self._settled.set()

    async def ack(self, held: Held, *, claimed: bool = True) -> None:
        """Remove ``held`` from the queue for good (without waiting for the socket flush); acks asked
        for together go out together (:mod:`worker.dlq.acks`)."""
        assert held.message.delivery_tag is not None
        held.settling = True
        await self._acks.ack(held.message.channel, held.message.delivery_tag)
        held.consumer.acked += 1
        self.acked += 1
        if claimed:
            held.consumer.claimed -= 1
        self._settled.set()

    async def letters(self) -> AsyncIterator[Held]:
        """The letters in queue order, up to the depth seen at the start."""
        if self._raw is None:
            raise RuntimeError("DeadLetterReader used outside `async with`")
        if self.depth == 0:
            return
        if self._current is None:
            await self._next_consumer()
        while self.seen < self.depth:
            message = await self._next_message()
            if message is None:
                return
            consumer = self._consumers[message.consumer_tag or ""]
            consumer.delivered += 1
            self.seen += 1
            if not message.redelivered:
                self.fresh_reached = True
            assert message.delivery_tag is not None
            self._acks.read(message.delivery_tag)
            held = Held(message, DeadLetter.from_delivered(message), self.seen, consumer)
            yield held
            if not held.settling:
                self._acks.left(held.message.delivery_tag or 0)

    async def _read_to_end_of_returned(self) -> None:
        """Hold on reading until the letters held are all the returned ones there were (see the module)."""
        if self.fresh_reached or self._current is None or self.seen >= self.depth or self.capacity_reached:
            return
        log.info("dlq_restoring_order", read=self.seen, depth=self.depth)
        async with asyncio.timeout(RESTORE_TIMEOUT_S):
            async for held in self.letters():
                if not held.message.redelivered:
                    return

    async def _next_message(self) -> DeliveredMessage | None:
        """The next delivery, opening consumers as needed; ``None`` when there is nothing more to read."""
        while True:
            if not self._inbox.empty():
                return self._inbox.get_nowait()
            current = self._current
            assert current is not None
            if current.unacked >= self.prefetch:  # no credit left: the broker will send nothing more
                if current.claimed == 0:  # full of held letters: move on to a fresh consumer
                    if not await self._next_consumer():
                        self.capacity_reached = True
                        return None
                    continue
                self._settled.clear()  # wait for the claimed ones to be acked or given up
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._settled.wait(), timeout=1.0)
                continue
            try:
                return await asyncio.wait_for(self._inbox.get(), timeout=self._idle_s)
            except TimeoutError:
                if current.unacked >= self.prefetch or await self._ready_count() > 0:
                    continue  # a busy broker is slow to deliver, the letters are still there
                return None  # credit to spare and none ready: fewer letters than at the start

    async def _ready_count(self) -> int:
        """Letters ready (not held by anyone) right now, by a passive declare on a channel of its own."""
        channel = await self._connection.channel()
        try:
            queue = await channel.declare_queue(self._queue_name, passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            await channel.close()

    async def _next_consumer(self) -> bool:
        """Cancel the current consumer (its letters stay held) and start the next; False at the limit."""
        assert self._raw is not None
        if len(self._consumers) >= MAX_CONSUMERS:
            return False
        if self._current is not None:
            await amqp_adapter.cancel(self._raw, self._current.tag)
        tag = f"{self._tag_prefix}-{len(self._consumers):02d}"  # tags must sort in consumer order
        consumer = Consumer(tag)
        self._consumers[tag] = consumer
        self._current = consumer
        await amqp_adapter.consume(self._raw, self._queue_name, self._inbox.put, consumer_tag=tag)
        return True
