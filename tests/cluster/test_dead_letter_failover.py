"""The node holding the dead-letter queue's leader is killed as a stream of unmappable submissions starts.

RabbitMQ 3.10 can leave a channel nacking every publish to a quorum queue once the node of its leader
died (``komo_braze.confirm_channel``). Measured here: a dead-letter channel whose first publish to the
queue came while the queue was electing a new leader was nacked on every publish (with fresh channels
switched off: 3,110 dead letters refused for 5 s each, not one taken in 37 s); one that had been
dead-lettering through the kill saw no nack in three runs. So the worker runs on the first node only,
the dead-letter queue is declared through the third (its leader goes there), the third is killed, and
at once submissions without an identifier are published through the first node. Every one must reach
the dead-letter queue with the worker's ``no_identifier``, not the broker's ``delivery_limit`` (what ten
nacked deliveries end in).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import pytest
from aio_pika import ExchangeType

from braze_sim.testing import running_sim
from komo_braze import topology
from komo_braze.envelope import Envelope
from komo_braze.publishing import envelope_message
from tests.broker import BrokerKit, unique_prefix
from tests.own_cluster import OwnCluster
from tests.waiting import eventually
from tests.worker.harness import body, dead_letters, running_worker
from tests.worker.simple_mapper import SimpleMapper

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.timeout(90),
    pytest.mark.asyncio(loop_scope="session"),  # the session's cluster (conftest.py)
]

#: seconds between two submissions of the stream (50 a second)
INTERVAL_S = 0.02
#: how long the stream runs, from the kill
STREAM_S = 6.0
#: every submission of the stream is in the dead-letter queue this long after the stream ended
DEAD_LETTERED_WITHIN_S = 30.0


async def declare_dead_letters_through(node_url: str, names: topology.Names) -> None:
    """The dead-letter exchange and queue as ``topology.declare`` makes them, declared through one node
    (RabbitMQ 3.10 puts a new quorum queue's leader on the node its declaring client is connected to)."""
    async with await aio_pika.connect(node_url) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(names.dead_exchange, ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(
            names.dead_queue, durable=True, arguments=topology.quorum_arguments(replicas=None)
        )
        await queue.bind(exchange, routing_key="")


async def stream_unidentified(kit: BrokerKit, stop: asyncio.Event, published: list[str]) -> None:
    """Publish, with confirms, submissions no identify rule can map, until ``stop`` is set."""
    async with kit.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(kit.names.exchange)
        n = 0
        while not stop.is_set():
            envelope = Envelope.from_komo(body(None, n=n, submission_id=f"unidentified-{uuid.uuid4().hex[:12]}"))
            await exchange.publish(envelope_message(envelope), routing_key=envelope.routing_key, mandatory=True)
            published.append(envelope.submission_id)
            n += 1
            await asyncio.sleep(INTERVAL_S)


async def test_every_dead_letter_keeps_its_kind_when_the_dead_letter_queues_leader_node_is_killed(
    cluster: OwnCluster,
) -> None:
    prefix = unique_prefix("deadfail")
    names = topology.Names(prefix)
    worker_node, leader_node = cluster.nodes[0], cluster.nodes[2]
    await declare_dead_letters_through(leader_node.amqp_url, names)
    assert await cluster.leader_of(names.dead_queue) == leader_node.node
    kit = BrokerKit(amqp_url=worker_node.amqp_url, prefix=prefix)
    published: list[str] = []
    stop = asyncio.Event()
    try:
        async with (
            running_sim() as sim,
            running_worker(kit, SimpleMapper(), braze_url=sim.url, reconnect_interval_s=0.5, publish_timeout_s=5) as w,
        ):
            assert await cluster.leader_of(names.work_queue()) == worker_node.node  # not lost with the third node

            async def dead_lettered_all() -> bool:
                count = w.value("messages_dead_lettered_total", workspace="default", kind="no_identifier")
                return count == len(published)

            await leader_node.kill()
            streaming = asyncio.create_task(stream_unidentified(kit, stop, published))
            try:
                await asyncio.sleep(STREAM_S)
            finally:
                stop.set()
                await streaming
            ended_at = time.monotonic()
            await eventually(dead_lettered_all, DEAD_LETTERED_WITHIN_S, "every submission dead-lettered by the worker")
            all_in_s = time.monotonic() - ended_at
            renewals = w.value("dead_letter_channel_renewals_total")
            letters = await dead_letters(kit)
    finally:
        if leader_node.process is None:
            await leader_node.start()
    print(
        f"\ndead-letter queue's leader node killed: {len(published)} submissions, all dead-lettered "
        f"{all_in_s:.2f} s after the stream ended, {renewals:.0f} fresh dead-letter channel(s)"
    )
    assert sorted(str(letter.submission_id) for letter in letters) == sorted(published)
    assert {letter.kind for letter in letters} == {"no_identifier"}
    assert renewals >= 1, "no dead letter was nacked: the test did not reach the stuck channel it is about"
