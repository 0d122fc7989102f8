"""Broker topology, every name derived from the prefix (docs/architecture.md, "Broker topology").

Declaring is idempotent: producer, worker, ``dlq replay`` and ``topology --apply`` call :func:`declare`.
Commands that only read (``dlq stats|list|show|export``, ``topology``) never declare: they check with
:func:`require` and passive declares, so that a mistyped prefix creates nothing.
The submissions exchange carries an alternate exchange from the first day, so that hubs no workspace
binding names fall through to the ``default`` work queue; a named workspace binds its own hubs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, ExchangeType

from komo_braze.envelope import routing_key
from komo_braze.failures import TopologyMissing

#: the workspace of hubs the mapping sends nowhere else, and its queue
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True, slots=True)
class Names:
    """The names of every broker object for one prefix."""

    prefix: str

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.submissions"

    @property
    def unrouted_exchange(self) -> str:
        return f"{self.prefix}.submissions.unrouted"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def work_queue(self, workspace: str = DEFAULT_WORKSPACE) -> str:
        return f"{self.prefix}.braze.{workspace}"


@dataclass(frozen=True, slots=True)
class Topology:
    names: Names
    exchange: AbstractExchange
    dead_exchange: AbstractExchange
    dead_queue: AbstractQueue
    work_queues: Mapping[str, AbstractQueue]


def quorum_arguments(replicas: int | None) -> dict[str, Any]:
    """A quorum queue's type and, when given, its replica count (unset: the broker's default, which on
    RabbitMQ 3.10 is a replica on every cluster node)."""
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    if replicas is not None:
        arguments["x-quorum-initial-group-size"] = replicas
    return arguments


def work_queue_arguments(names: Names, delivery_limit: int, replicas: int | None = None) -> dict[str, Any]:
    return {
        **quorum_arguments(replicas),
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": names.dead_exchange,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare(
    channel: AbstractChannel,
    prefix: str,
    *,
    delivery_limit: int = 10,
    replicas: int | None = None,
    workspace_hubs: Mapping[str, Iterable[str]] | None = None,
) -> Topology:
    """Declare exchanges and queues for ``prefix``; ``replicas`` is each quorum queue's replica count.

    ``workspace_hubs`` maps a named workspace to the hub ids the mapping assigns to it; the ``default``
    workspace queue always exists and takes every hub no other workspace claims.
    """
    names = Names(prefix)
    dead_exchange = await channel.declare_exchange(names.dead_exchange, ExchangeType.FANOUT, durable=True)
    dead_queue = await channel.declare_queue(names.dead_queue, durable=True, arguments=quorum_arguments(replicas))
    await dead_queue.bind(dead_exchange, routing_key="")

    unrouted = await channel.declare_exchange(names.unrouted_exchange, ExchangeType.FANOUT, durable=True)
    exchange = await channel.declare_exchange(
        names.exchange,
        ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": names.unrouted_exchange},
    )
    arguments = work_queue_arguments(names, delivery_limit, replicas)
    default_queue = await channel.declare_queue(names.work_queue(DEFAULT_WORKSPACE), durable=True, arguments=arguments)
    await default_queue.bind(unrouted, routing_key="")
    queues: dict[str, AbstractQueue] = {DEFAULT_WORKSPACE: default_queue}
    for workspace, hubs in (workspace_hubs or {}).items():
        queue = queues.get(workspace)
        if queue is None:
            queue = await channel.declare_queue(names.work_queue(workspace), durable=True, arguments=arguments)
            queues[workspace] = queue
        for hub in hubs:
            await queue.bind(exchange, routing_key=routing_key(hub))
    return Topology(names, exchange, dead_exchange, dead_queue, queues)


async def delete(channel: AbstractChannel, prefix: str, workspaces: Iterable[str] = ()) -> None:
    """Remove every object of ``prefix`` (tests, and the demo's clean-up)."""
    names = Names(prefix)
    for workspace in {DEFAULT_WORKSPACE, *workspaces}:
        await channel.queue_delete(names.work_queue(workspace))
    await channel.queue_delete(names.dead_queue)
    for exchange in (names.exchange, names.unrouted_exchange, names.dead_exchange):
        await channel.exchange_delete(exchange)


async def queue_counts(connection: aio_pika.abc.AbstractConnection, queue_name: str) -> tuple[int, int] | None:
    """``(messages, consumers)`` of a queue by a passive declare, or ``None`` when it does not exist."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(queue_name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None
    try:
        result = queue.declaration_result
        return result.message_count or 0, result.consumer_count or 0
    finally:
        await channel.close()


async def exchange_exists(connection: aio_pika.abc.AbstractConnection, exchange_name: str) -> bool:
    """Whether an exchange exists, by a passive declare (which creates nothing)."""
    channel = await connection.channel()
    try:
        await channel.declare_exchange(exchange_name, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await channel.close()
    return True


async def require(connection: aio_pika.abc.AbstractConnection, prefix: str, queue_names: Iterable[str]) -> Names:
    """Check, creating nothing, that ``queue_names`` of ``prefix`` exist; raises :class:`TopologyMissing`."""
    for name in queue_names:
        if await queue_counts(connection, name) is None:
            raise TopologyMissing(
                f"queue {name!r} does not exist: nothing is declared under prefix {prefix!r} "
                "(a mistyped prefix? `komo-braze topology --apply` declares it)"
            )
    return Names(prefix)
