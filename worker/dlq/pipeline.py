"""``replay``'s publishing: many in flight at once, each settled by its own confirm, at an optional rate.

``replay`` acks each dead copy when its replayed copy is confirmed. Waiting for each confirm before the
next publish would cap it at one broker round trip per message; a :class:`Pipeline` keeps up to
``max_in_flight`` outstanding on one confirm channel (aiormq matches confirms to publishes by delivery
tag) and owns the tasks that wait for them.

It does not use :class:`komo_braze.publishing.ConfirmPublisher` (``import`` does): that one owns a
robust connection of its own that reconnects by itself, while a replayed copy must be published on the
connection that holds its dead copy. If that connection drops, the broker hands every held letter back
and the acks can no longer be sent, so publishing must stop with it rather than reconnect and publish
copies whose dead copies stay (duplicates). The errors, and their translation, are the shared
:mod:`komo_braze.publish_errors` ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel

from komo_braze.amqp_adapter import MessageProperties, publish_unflushed
from komo_braze.publish_errors import PublishFailed, publish_errors


@dataclass(frozen=True, slots=True)
class Destination:
    """An exchange reached through a confirm channel (opened with ``on_return_raises=True``)."""

    channel: AbstractChannel
    exchange: str

    async def publish(self, body: bytes, properties: MessageProperties, routing_key: str, timeout_s: float) -> None:
        """Publish ``mandatory`` and wait for the confirm; raises :class:`PublishFailed`.

        Not through aio-pika's ``Exchange.publish``, which waits for every frame to be flushed to the
        socket while it holds the channel lock and serialises the pipeline; the confirm is awaited all
        the same.
        """
        with publish_errors(routing_key, timeout_s):
            async with asyncio.timeout(timeout_s):
                await publish_unflushed(self.channel, body, properties, exchange=self.exchange, routing_key=routing_key)


class ReplayRate:
    """At most ``rate_per_s`` starts per second, evenly spaced; ``None`` means no limit."""

    def __init__(self, rate_per_s: float | None) -> None:
        self._interval_s = 1.0 / rate_per_s if rate_per_s else 0.0
        self._next = time.monotonic()

    async def wait(self) -> None:
        if not self._interval_s:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        # never bank more than one interval of credit after a pause
        self._next = max(self._next, now - self._interval_s) + self._interval_s


class Pipeline:
    """Run up to ``max_in_flight`` confirm-waiting jobs at once; remember the first failure."""

    def __init__(self, max_in_flight: int, rate_per_s: float | None = None) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pacer = ReplayRate(rate_per_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self.failure: str | None = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, job: Callable[[], Awaitable[None]], on_failure: Callable[[str], None]) -> None:
        """Start ``job`` once a slot is free (and the pace allows); ``on_failure(reason)`` if it raises."""
        await self._pacer.wait()
        await self._slots.acquire()

        async def run() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                on_failure("cancelled")
                raise
            except PublishFailed as exc:
                self.failure = self.failure or exc.reason
                on_failure(exc.reason)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.failure = self.failure or reason
                on_failure(reason)
            finally:
                self._slots.release()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float) -> bool:
        """Wait for every job; after ``timeout_s`` cancel the rest. True when all finished in time."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        return not pending
