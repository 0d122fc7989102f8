"""The service's edges: health and metrics over HTTP, a shutdown whose grace period runs out."""

from __future__ import annotations

import asyncio

import aiohttp

from braze_sim.testing import RunningSim, running_sim
from tests.broker import BrokerKit
from tests.own_broker import free_port
from tests.waiting import eventually
from tests.worker.harness import acked, body, dead_letters, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper


async def test_health_readiness_and_metrics_are_served(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim() as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker:
        await publish(broker, [body("joe", email="joe@bloggs.example", bad_field="x")])
        await eventually(acked(worker, 1), what="1 ack")
        base = f"http://127.0.0.1:{worker.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 200
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
    for line in (
        'komo_braze_worker_messages_consumed_total{workspace="default"} 1.0',
        'komo_braze_worker_messages_acked_total{workspace="default"} 1.0',
        'komo_braze_worker_requests_total{status="201",workspace="default"} 1.0',
        'komo_braze_worker_rejected_fields_total{attribute="bad_field"} 1.0',
        'komo_braze_worker_breaker_state{workspace="default"} 0.0',
        "komo_braze_worker_state_store_up 0.0",  # in-process by choice (no KOMO_BRAZE_STATE_URL) ...
        "komo_braze_worker_state_store_configured 0.0",  # ... which no alert takes for a store that is down
    ):
        assert line in text
    assert "joe" not in text  # no user data in metrics, ever


async def test_a_shutdown_whose_grace_runs_out_acks_nothing_braze_did_not_accept(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim(hang_rate=1.0, hang_s=30.0) as sim:
        async with running_worker(broker, SimpleMapper(), braze_url=sim.url, shutdown_grace_s=1.0) as worker:
            await publish(broker, [body(f"user-{n}") for n in range(20)])
            await eventually(lambda: _hanging(sim), what="a request hanging at Braze")
            started = asyncio.get_running_loop().time()
            await worker.stop(timeout_s=15)
            assert asyncio.get_running_loop().time() - started < 8
        assert worker.value("messages_acked_total", workspace="default") == 0
        assert await broker.wait_for_count(broker.names.work_queue(), 20) == 20  # all back, for the next worker
        assert len(await sim.client.events()) == 0
        assert await dead_letters(broker) == []


async def _hanging(sim: RunningSim) -> bool:
    return bool((await sim.client.stats())["hanging"] >= 1)


async def test_a_worker_whose_redis_does_not_answer_starts_in_per_process_mode_and_delivers(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    async with (
        running_sim() as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, state_url=nobody) as worker,
    ):
        assert worker.value("state_store_up") == 0
        assert worker.value("state_store_configured") == 1  # a store named and down: what the alert looks for
        bodies = [body(f"user-{n}") for n in range(10)]
        await publish(broker, bodies)
        await eventually(acked(worker, 10), what="10 acks")
        await publish(broker, bodies[:1])  # a copy: recognised in this process
        await eventually(acked(worker, 11), what="the copy acked")
        assert worker.value("komo_braze_duplicates_total", workspace="default", cause="accepted") == 1
        assert len(await sim.client.events()) == 10
    assert await dead_letters(broker) == []
