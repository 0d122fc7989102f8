"""The worker as a process (``komo-braze worker``): SIGTERM under load, ``kill -9`` mid-batch."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from braze_sim.testing import RunningSim, running_sim
from devtools.components import Component
from devtools.samples import SampleFactory
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import dead_letters, publish, start_worker_process

pytestmark = pytest.mark.slow


async def _delivered_ids(sim: RunningSim) -> list[str]:
    return [e["properties"]["submission_id"] for e in await sim.client.events(limit=100_000)]


def _bodies(count: int) -> list[dict[str, object]]:
    samples = SampleFactory(seed=3, users=150)
    return [samples.submission(n) for n in range(count)]


async def test_sigterm_under_load_loses_nothing_and_acks_nothing_early(broker: BrokerKit, tmp_path: Path) -> None:
    await broker.declare()
    bodies = _bodies(600)
    ids = {str(b["submission_id"]) for b in bodies}
    async with running_sim(latency_ms=150, latency_jitter_ms=100) as sim:
        await publish(broker, bodies)
        # two requests in flight: a prefetch of 300, so that some of the 600 are still queued at SIGTERM
        worker = await start_worker_process(broker, sim.url, tmp_path, "worker-1", braze_max_in_flight="2")
        await eventually(lambda: _some_delivered(sim), what="deliveries under way")
        worker.process.send_signal(signal.SIGTERM)
        # wait, not `stop()`: a second SIGTERM would be the "exit at once" signal
        async with asyncio.timeout(30):
            assert await worker.process.wait() == 0
        events = [e for e in worker.log_events() if e.get("event") in ("worker_stopping", "worker_stopped")]
        assert [e["event"] for e in events] == ["worker_stopping", "worker_stopped"]
        left = {m.message_id for m in await broker.drain(broker.names.work_queue())}
        delivered = await _delivered_ids(sim)
        assert len(delivered) == len(set(delivered))  # nothing sent twice
        assert set(delivered) | left == ids  # nothing lost
        assert not set(delivered) & left  # nothing left on the queue that Braze had (no ack missing)
        assert left, "the worker should have stopped before finishing all 600"
        assert await dead_letters(broker) == []


async def test_kill_9_mid_batch_redelivers_and_loses_nothing(broker: BrokerKit, tmp_path: Path) -> None:
    await broker.declare()
    bodies = _bodies(300)
    ids = {str(b["submission_id"]) for b in bodies}
    async with running_sim(latency_ms=300) as sim:
        await publish(broker, bodies)
        first = await start_worker_process(broker, sim.url, tmp_path, "worker-1")
        await eventually(lambda: _some_delivered(sim), what="deliveries under way")
        first.process.kill()
        await first.process.wait()
        second = await start_worker_process(broker, sim.url, tmp_path, "worker-2")
        try:
            await eventually(lambda: _all_delivered(sim, ids), timeout_s=60, what="all 300 delivered")
            await eventually(lambda: _queue_empty(broker), what="the queue drained")
        finally:
            assert await second.stop() == 0
        assert set(await _delivered_ids(sim)) == ids
        assert await dead_letters(broker) == []


async def _some_delivered(sim: RunningSim) -> bool:
    return len(await sim.client.events(limit=100_000)) >= 40


async def _all_delivered(sim: RunningSim, ids: set[str]) -> bool:
    return set(await _delivered_ids(sim)) >= ids


async def _queue_empty(kit: BrokerKit) -> bool:
    return await kit.count(kit.names.work_queue()) == 0


async def test_a_second_signal_exits_at_once_and_the_broker_redelivers(broker: BrokerKit, tmp_path: Path) -> None:
    await broker.declare()
    bodies = _bodies(50)
    async with running_sim(hang_rate=1.0, hang_s=60.0) as sim:
        await publish(broker, bodies)
        worker = await start_worker_process(broker, sim.url, tmp_path, "worker-1")
        await eventually(lambda: _hanging(sim), what="a request hanging at Braze")
        worker.process.send_signal(signal.SIGTERM)  # graceful: it would wait the 20 s grace for Braze
        await eventually(lambda: _logged(worker, "worker_stopping"), what="the graceful stop to begin")
        worker.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(5):
            status = await worker.process.wait()
        assert status == 128 + signal.SIGTERM
        assert "forced_exit" in {e.get("event") for e in worker.log_events()}
        assert await broker.wait_for_count(broker.names.work_queue(), 50) == 50
        assert len(await sim.client.events()) == 0


async def _hanging(sim: RunningSim) -> bool:
    return bool((await sim.client.stats())["hanging"] >= 1)


async def _logged(component: Component, event: str) -> bool:
    return event in {e.get("event") for e in component.log_events()}
