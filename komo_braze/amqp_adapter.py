"""The one place that reaches under aio-pika: its robust connection's private transport step, and the
aiormq channel under its channels.

Why reach under it at all (each measured or needed, see ``docs/decisions.md``):

- aio-pika's robust connection reconnects to one URL; :class:`TransportStepConnection` hooks the private
  step that opens a new transport, so that a subclass can walk several addresses
  (:class:`komo_braze.amqp.FailoverConnection`).
- The worker and the dlq reader consume on the aiormq channel (:class:`RawChannel`): aio-pika's
  ``Queue.consume`` builds a message object per delivery, a third of a plain consumer's cost, and its
  robust channel would re-consume on its own after a reconnect, where the worker must first hand back
  what it held. The robust channel's public ``reopen_callbacks`` say when to consume again
  (:func:`on_reopen`).
- ``dlq replay`` publishes with ``wait=False`` (:func:`publish_unflushed`): aio-pika's
  ``Exchange.publish`` waits for the socket flush under the channel lock and serialises the pipeline.

``tests/komo_braze/test_amqp_adapter.py`` is the canary: it fails when an aio-pika or aiormq upgrade
moves or renames anything used here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiormq
from aio_pika.abc import AbstractChannel, AbstractRobustChannel
from aio_pika.robust_connection import RobustConnection
from aiormq.abc import DeliveredMessage

__all__ = [
    "DeliveredMessage",
    "DeliveryChannel",
    "MessageProperties",
    "RawChannel",
    "TransportStepConnection",
    "cancel",
    "consume",
    "is_consuming",
    "on_reopen",
    "publish_unflushed",
    "raw_channel",
]

#: the channel under aio-pika's (aiormq's concrete one: its abstract base lacks ``consumers`` and ``wait``)
RawChannel = aiormq.Channel
#: the channel a message was delivered on, as a message names it (acks go there)
DeliveryChannel = aiormq.abc.AbstractChannel
#: a message's AMQP properties, as aiormq sends and delivers them
MessageProperties = aiormq.spec.Basic.Properties
#: the private step of aio-pika's robust connection that opens a transport (name-mangled)
TRANSPORT_STEP = "_RobustConnection__connect_transport"

_open_transport: Callable[[RobustConnection], Awaitable[None]] = getattr(RobustConnection, TRANSPORT_STEP)


class TransportStepConnection(RobustConnection):
    """aio-pika's robust connection whose every connection attempt (the first and each reconnection)
    goes through :meth:`open_transport`; a subclass overrides that."""

    async def open_transport(self, open_one: Callable[[], Awaitable[None]]) -> None:
        """Open a transport to ``self.url`` with ``open_one()``; override to change ``url`` between tries."""
        await open_one()

    async def _RobustConnection__connect_transport(self) -> None:  # the name aio-pika's own code calls
        await self.open_transport(lambda: _open_transport(self))


async def raw_channel(channel: AbstractChannel) -> RawChannel:
    """The aiormq channel under ``channel`` (a robust channel waits for its connection first)."""
    raw = await channel.get_underlay_channel()
    if not isinstance(raw, RawChannel):
        raise TypeError(f"aio-pika gave a {type(raw).__name__}, not an aiormq.Channel")
    return raw


async def consume(
    raw: RawChannel,
    queue_name: str,
    on_message: Callable[[DeliveredMessage], Any],
    *,
    consumer_tag: str | None = None,
) -> str:
    """Consume ``queue_name`` with manual acks; returns the consumer tag.

    ``on_message`` may be a plain function: aiormq calls it in one task per delivery, the tasks started
    in delivery order, so a function with no ``await`` runs to its end in that order.
    """
    if inspect.iscoroutinefunction(on_message):
        callback = on_message
    else:

        async def callback(message: DeliveredMessage) -> None:
            on_message(message)

    ok = await raw.basic_consume(queue_name, callback, no_ack=False, consumer_tag=consumer_tag)
    if ok.consumer_tag is None:
        raise RuntimeError(f"the broker gave no consumer tag for {queue_name}")
    return ok.consumer_tag


def is_consuming(raw: RawChannel | None, consumer_tag: str | None) -> bool:
    """The broker's view, as aiormq keeps it: ``consumer_tag`` consumes on the open channel ``raw``
    (a ``basic.cancel`` from the broker, or a closed channel, removes it)."""
    return raw is not None and consumer_tag is not None and not raw.is_closed and consumer_tag in raw.consumers


async def cancel(raw: RawChannel, consumer_tag: str) -> None:
    """Cancel ``consumer_tag`` if it still consumes on ``raw``; what it delivered stays unacked."""
    if is_consuming(raw, consumer_tag):
        await raw.basic_cancel(consumer_tag)


def on_reopen(channel: AbstractChannel, callback: Callable[[], Awaitable[None]]) -> None:
    """Call ``callback`` each time aio-pika re-opens the robust ``channel`` (after a reconnection, or
    after the broker closed the channel), once its prefetch and declarations are restored."""
    if not isinstance(channel, AbstractRobustChannel):
        raise TypeError("only a robust channel is re-opened")

    async def reopened(_channel: AbstractRobustChannel | None, /) -> None:
        await callback()

    channel.reopen_callbacks.add(reopened)


async def publish_unflushed(
    channel: AbstractChannel,
    body: bytes,
    properties: MessageProperties,
    *,
    exchange: str,
    routing_key: str,
) -> None:
    """Publish ``mandatory`` on a confirm channel and wait for the confirm, not for the socket flush."""
    raw = await raw_channel(channel)
    await raw.basic_publish(
        body, exchange=exchange, routing_key=routing_key, properties=properties, mandatory=True, wait=False
    )
