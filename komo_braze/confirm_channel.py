"""A confirm channel that gives way to a fresh one after the broker nacks a publish.

RabbitMQ 3.10 can leave a channel refusing every publish to a quorum queue once the node of that queue's
leader died: the channel keeps asking the dead leader, while a new channel on the same node is confirmed
at once (docs/decisions.md, "A cluster"; ``tests/cluster/test_failover.py`` saw thousands of
nacks in a row, ``tests/cluster/test_dead_letter_failover.py`` the worker's dead letters stuck the same
way). No queue here has a length limit, so a nack means exactly that: after one, a fresh channel takes
over (at most once per ``renew_interval_s``), and the spent one is closed once the publishes still
waiting on it have had their time.

The producer's publisher (:class:`komo_braze.publishing.ConfirmPublisher`) and the worker's dead letters
(:class:`worker.settle.Settler`) publish through one of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection

from komo_braze.logs import get_logger

log = get_logger(__name__)


class ConfirmChannel:
    """The channel (with publisher confirms, returns raised) and exchange a process publishes to.

    :param connection: the robust connection fresh channels are opened on.
    :param channel: the channel to publish on first; ``exchange`` is its exchange.
    :param name: the publisher's name, in task names and log events (``publisher=``).
    :param timeout_s: how long opening a fresh channel may take, and how long a spent one stays open.
    :param renew_interval_s: the shortest time between two fresh channels.
    :param on_renewed: called each time a fresh channel took over (a metric's ``inc``).
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractRobustChannel,
        exchange: AbstractExchange,
        *,
        name: str,
        timeout_s: float,
        renew_interval_s: float,
        on_renewed: Callable[[], None] | None = None,
    ) -> None:
        self._connection = connection
        self.channel = channel
        self.exchange = exchange
        self._name = name
        self._timeout_s = timeout_s
        self._renew_interval_s = renew_interval_s
        self._on_renewed = on_renewed
        self._tasks: set[asyncio.Task[None]] = set()  # opening a fresh channel, closing a spent one
        self._renewing = False
        self._renewed_at = -math.inf
        self._renewal = asyncio.Event()  # set, and replaced, each time a fresh channel takes over

    @classmethod
    async def open(
        cls,
        connection: AbstractRobustConnection,
        exchange_name: str,
        *,
        name: str,
        timeout_s: float,
        renew_interval_s: float,
        on_renewed: Callable[[], None] | None = None,
    ) -> ConfirmChannel:
        """A new channel on ``connection`` publishing to the existing exchange ``exchange_name``."""
        async with asyncio.timeout(timeout_s):
            channel, exchange = await _open_channel(connection, exchange_name)
        return cls(
            connection,
            channel,
            exchange,
            name=name,
            timeout_s=timeout_s,
            renew_interval_s=renew_interval_s,
            on_renewed=on_renewed,
        )

    async def publish(self, message: aio_pika.Message, routing_key: str) -> None:
        """Publish ``mandatory`` and wait for the confirm (the caller bounds the wait).

        Raises what aio-pika raises: ``PublishError`` when the message was returned (unroutable),
        ``DeliveryError`` on a nack, after which a fresh channel is opened in the background.
        """
        try:
            await self.exchange.publish(message, routing_key=routing_key, mandatory=True)
        except aio_pika.exceptions.PublishError:  # a return, not a nack (PublishError is a DeliveryError)
            raise
        except aio_pika.exceptions.DeliveryError:
            self.renew_soon()
            raise

    async def publish_until_confirmed(self, message: aio_pika.Message, routing_key: str, *, timeout_s: float) -> None:
        """:meth:`publish`, and after a nack again on the next fresh channel, for up to ``timeout_s``.

        For a publisher that would otherwise hand its message back to a queue and spend one of its
        deliveries on each nack (the worker's dead letters): a fresh channel opened while the queue was
        still electing its leader was seen stuck as well, and a dead letter requeued at each nack went
        through its ten deliveries before the next one. Raises ``TimeoutError`` when ``timeout_s`` passed,
        ``PublishError`` at once when the message was returned.
        """
        async with asyncio.timeout(timeout_s):
            while True:
                renewal = self._renewal
                try:
                    await self.publish(message, routing_key)
                    return
                except aio_pika.exceptions.PublishError:
                    raise
                except aio_pika.exceptions.DeliveryError:
                    with contextlib.suppress(TimeoutError):  # none within the interval: the next nack asks again
                        async with asyncio.timeout(self._renew_interval_s):
                            await renewal.wait()

    def renew_soon(self) -> None:
        """Open a fresh channel in the background, unless one is being opened or was opened lately."""
        now = time.monotonic()
        if self._renewing or now - self._renewed_at < self._renew_interval_s:
            return
        self._renewing, self._renewed_at = True, now
        self._own(self._renew(), "renew-channel")

    def stop(self) -> None:
        """Stop renewing; closing the connection (its owner's part) closes the channels."""
        for task in list(self._tasks):
            task.cancel()

    def _own(self, coroutine: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(coroutine, name=f"{self._name}-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _renew(self) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                channel, exchange = await _open_channel(self._connection, self.exchange.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("publish_channel_renew_failed", publisher=self._name, error=type(exc).__name__)
            return
        finally:
            self._renewing = False
        spent, self.channel, self.exchange = self.channel, channel, exchange
        renewal, self._renewal = self._renewal, asyncio.Event()
        renewal.set()
        log.warning("publish_channel_renewed", publisher=self._name, reason="the broker refused a publish")
        if self._on_renewed is not None:
            self._on_renewed()
        self._own(self._close_later(spent), "close-spent-channel")

    async def _close_later(self, channel: AbstractRobustChannel) -> None:
        await asyncio.sleep(self._timeout_s)  # publishes still waiting on it end first
        with contextlib.suppress(Exception):
            await channel.close()


async def _open_channel(
    connection: AbstractRobustConnection, exchange_name: str
) -> tuple[AbstractRobustChannel, AbstractExchange]:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        return channel, await channel.get_exchange(exchange_name)
    except BaseException:
        with contextlib.suppress(Exception):
            await channel.close()
        raise
