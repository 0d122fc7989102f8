"""Acking held dead letters in as few frames as their order allows.

A replay acks each dead copy once its replayed copy is confirmed; the broker confirms in bursts, and
one ``basic.ack`` frame per letter is a good part of a replay's cost. :class:`AckBatcher` gathers the
acks asked for in one turn of the event loop and sends them on the next: one ``basic.ack`` with
``multiple`` for those that are the oldest letters still held on the channel, one frame each for the
others. ``multiple`` settles *every* unacked delivery up to its tag, so it is used only up to the first
letter that is neither acked nor being acked (a letter left in the queue, or one whose copy is still
in flight), never past it. An ack returns once its frame is handed to the channel, as a lone
``basic_ack(wait=False)`` did, and raises what sending it raised: nothing is counted as moved that was
not acked, and the in-flight window (the letters whose copy is confirmed and dead copy not acked yet)
grows by at most one turn of the loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import aio_pika.exceptions

from komo_braze.amqp_adapter import DeliveryChannel


@dataclass(eq=False, slots=True)
class _Batch:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None


class AckBatcher:
    """The acks of one channel's deliveries; :meth:`read` every delivery handed out, in order."""

    def __init__(self) -> None:
        self._open: deque[int] = deque()  # tags handed out and not acked, in order, up to the boundary
        self._boundary: int | None = None  # the first tag left held for good: nothing past it is in _open
        self._sent: set[int] = set()  # tags in _open acked on their own (skipped when the head reaches them)
        self._acking: dict[int, DeliveryChannel] = {}
        self._batch: _Batch | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def read(self, tag: int) -> None:
        """The delivery ``tag`` was handed out (tags grow with every delivery on a channel)."""
        if self._boundary is None:
            self._open.append(tag)

    def left(self, tag: int) -> None:
        """The delivery ``tag`` stays held for good: no ``multiple`` ack may reach it (frees memory)."""
        if self._boundary is not None and tag >= self._boundary:
            return
        self._boundary = tag
        while self._open and self._open[-1] > tag:
            self._sent.discard(self._open.pop())

    async def ack(self, channel: DeliveryChannel, tag: int) -> None:
        """Ack ``tag``; returns once its frame is handed to ``channel``, raises if that failed."""
        self._acking[tag] = channel
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            task = asyncio.create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await batch.done.wait()
        if batch.error is not None:
            raise batch.error

    async def drain(self) -> None:
        """Wait until every ack asked for is sent (or failed)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

    async def _flush(self, batch: _Batch) -> None:
        async with self._lock:  # frames go out in the order they were decided
            if self._batch is batch:
                self._batch = None
            acking, self._acking = self._acking, {}
            try:
                for channel, tag, multiple in self._frames(acking):
                    await channel.basic_ack(tag, multiple=multiple, wait=False)
            except asyncio.CancelledError:
                batch.error = aio_pika.exceptions.ChannelInvalidStateError("acks cancelled")
                raise
            except Exception as exc:
                batch.error = exc
            finally:
                batch.done.set()

    def _frames(self, acking: dict[int, DeliveryChannel]) -> list[tuple[DeliveryChannel, int, bool]]:
        """The frames for ``acking``; marks them sent before any is (a tag acked twice closes the channel)."""
        frames: list[tuple[DeliveryChannel, int, bool]] = []
        last: tuple[DeliveryChannel, int] | None = None
        count = 0
        while self._open:
            head = self._open[0]
            if head in self._sent:
                self._sent.discard(head)
            elif head in acking:
                last = (acking.pop(head), head)
                count += 1
            else:
                break
            self._open.popleft()
        if last is not None:
            frames.append((last[0], last[1], count > 1))
        for tag in sorted(acking):
            frames.append((acking[tag], tag, False))
            if self._open and tag > self._open[0] and (self._boundary is None or tag < self._boundary):
                self._sent.add(tag)
        return frames
