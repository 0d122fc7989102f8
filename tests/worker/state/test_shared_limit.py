"""The shared limit in workers: four processes against one workspace whose limit is the bottleneck use at
least 95% of it with at most 0.5% of their requests answered 429; a worker whose Redis dies mid-stream
loses nothing and shares the limit again once Redis is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.bench_limit import measure
from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.own_redis import own_redis
from tests.waiting import eventually
from tests.worker.harness import acked, body, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_four_processes_sharing_the_limit_use_95_percent_of_it_with_almost_no_429s(
    amqp_url: str, redis_url: str, tmp_path: Path
) -> None:
    run = await measure(
        amqp_url, processes=4, state_url=redis_url, log_dir=tmp_path, rate="150/3s", windows=5, count=4000
    )
    assert run.submissions < 4000  # a backlog to the end: the limit was the bottleneck all along
    assert run.used_share >= 0.95, run.line()
    assert run.refused_share <= 0.005, run.line()


async def test_a_worker_whose_redis_dies_mid_stream_delivers_everything_and_shares_the_limit_again_after(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await broker.declare()
    bodies = [body(f"user-{n}", first_name=f"Name{n}") for n in range(300)]
    async with (
        own_redis() as server,
        running_sim(rate_limit="30/1s") as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, state_url=server.url, batch_max_bytes=1024) as worker,
    ):

        async def shared_limit(up: float) -> bool:
            return worker.value("shared_limit", workspace="default") == up

        await publish(broker, bodies[:200])
        await eventually(acked(worker, 50), what="50 acks with the limit shared")
        assert await shared_limit(1)
        await server.kill()
        await eventually(lambda: shared_limit(0), what="the shared limit reported down")
        await eventually(acked(worker, 200), what="the rest of the stream paced by the worker alone")
        assert worker.value("shared_limit_fallbacks_total", workspace="default") >= 1
        await server.start()
        # a worker asks Redis again a second after it last failed, on its next request (the first one on a
        # connection from before the restart may fail once more): keep requests coming, ten at a time
        rest = bodies[200:]
        while rest and not await shared_limit(1):
            batch, rest = rest[:10], rest[10:]
            await publish(broker, batch)
            await asyncio.sleep(0.5)
        await publish(broker, rest)
        await eventually(acked(worker, 300), what="every submission acked")
        assert await shared_limit(1)
        delivered = [e["properties"]["submission_id"] for e in await sim.client.events(limit=1000)]
    assert sorted(delivered) == sorted(b["submission_id"] for b in bodies)  # each once, none lost
    assert await broker.count(broker.names.dead_queue) == 0


async def test_workers_sharing_the_limit_leave_room_for_another_client_of_the_same_key(
    amqp_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Braze's headers stay the truth: another client spending a fifth of the limit slows the workers."""
    run = await measure(
        amqp_url, processes=2, state_url=redis_url, log_dir=tmp_path, rate="150/3s", windows=4, other_share=0.2
    )
    assert run.other_sent >= 4 * 30 * 0.9  # the other client did spend its fifth
    assert run.used_share >= 0.95, run.line()
    assert run.refused_share <= 0.005, run.line()
