"""The Braze gate on its own, against a real braze_sim: what it records of each answer, and how its breaker
opens on failures or a configuration fault and is closed again by a probe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from braze_sim.testing import RunningSim, running_sim
from tests.waiting import eventually
from worker.braze_client import BrazeClient
from worker.breaker import Breaker, BreakerState
from worker.gate import BrazeGate
from worker.metrics import WorkerMetrics
from worker.pacer import Pacer

pytestmark = pytest.mark.timeout(30)

BODY = orjson.dumps({"attributes": [{"external_id": "u-1", "first_name": "Ann"}]})


@dataclass
class GateKit:
    gate: BrazeGate
    sim: RunningSim
    metrics: WorkerMetrics

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, workspace="w", **labels)


@asynccontextmanager
async def gate_to_sim(*, failure_threshold: int = 3, **sim_options: Any) -> AsyncIterator[GateKit]:
    metrics = WorkerMetrics(CollectorRegistry())
    async with running_sim(**sim_options) as sim:
        client = BrazeClient(sim.url, SecretStr("test-key"), max_in_flight=2, timeout_s=5.0)
        async with client:
            breaker = Breaker(failure_threshold=failure_threshold, base_s=0.01, cap_s=0.05)
            yield GateKit(BrazeGate("w", client, Pacer(jitter_s=0.0), breaker, metrics), sim, metrics)


@asynccontextmanager
async def probing(gate: BrazeGate) -> AsyncIterator[None]:
    task = asyncio.create_task(gate.probe_loop())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_request_records_its_status_its_objects_and_the_rate_limit_left() -> None:
    async with gate_to_sim(rate_limit="3000/3s") as kit:
        answer = await kit.gate.request(BODY, objects=1)
        assert answer.status == 201
        assert kit.value("requests_total", status="201") == 1
        assert kit.value("request_objects_count") == 1
        assert kit.value("rate_limit_limit") == 3000
        assert kit.value("rate_limit_remaining") == 2999
        assert len(await kit.sim.client.events()) == 0
        assert await kit.sim.client.profile(external_id="u-1") is not None


async def test_the_breaker_opens_at_the_threshold_logs_it_once_and_a_probe_to_a_healthy_braze_closes_it() -> None:
    async with gate_to_sim(failure_threshold=2) as kit:
        with structlog.testing.capture_logs() as events:
            kit.gate.failed("500")
            assert kit.gate.breaker.is_closed
            kit.gate.failed("500")
            kit.gate.failed("timeout")
            assert kit.value("breaker_state") == BreakerState.OPEN
            async with probing(kit.gate):
                await eventually(lambda: kit.gate.breaker.is_closed, timeout_s=10)
        assert [e["event"] for e in events if e["event"].startswith("breaker_")] == ["breaker_opened", "breaker_closed"]
        # Braze answers a probe (no object) 400, about the request itself: it is there and takes the key
        assert kit.value("probes_total", status="400") == 1
        assert kit.value("requests_total", status="400") == 0  # a probe is not a request
        assert kit.value("breaker_state") == BreakerState.CLOSED


async def test_a_configuration_fault_opens_the_breaker_at_once_and_probes_close_it_only_once_the_key_works() -> None:
    async with gate_to_sim(unauthorized_for_s=1.0) as kit:
        with structlog.testing.capture_logs() as events:
            kit.gate.config_fault(401, "invalid api key")
            assert kit.value("breaker_state") == BreakerState.OPEN
            async with probing(kit.gate):
                await eventually(lambda: kit.gate.breaker.is_closed, timeout_s=15)
        assert kit.value("probes_total", status="401") >= 1  # refused while the key did not work
        assert kit.value("probes_total", status="400") == 1  # the one that closed it
        assert kit.value("config_faults_total", status="401") == 1 + kit.value("probes_total", status="401")
        critical = [e for e in events if e["event"] == "braze_configuration_fault"]
        assert [(e["log_level"], e["status"]) for e in critical] == [("critical", 401)]  # once, when it opened


async def test_a_429_pauses_the_pacer_for_as_long_as_braze_says_and_counts_the_pause() -> None:
    async with gate_to_sim(rate_limit="1/60s") as kit:
        assert (await kit.gate.request(BODY, objects=1)).status == 201
        answer = await kit.gate.client.track(BODY)  # past the pacer, as a second worker would
        assert answer.status == 429
        kit.gate.rate_limited(answer)
        assert kit.value("rate_limit_pauses_total") == 1
        paused_s = kit.value("rate_limit_paused_seconds_total")
        assert 1.0 < paused_s <= 61.0
        assert kit.gate.pacer.blocked_for_s() > 1.0
