"""Whatever comes back from "Braze" (a proxy's page, a cut body, unusable headers, a redirect), the worker
on the real broker loses nothing, sends nothing twice, never stops and never spins: braze_sim answers each
way for real (hostile mode, :mod:`braze_sim.hostile`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import structlog
from aiohttp import web

from bench.bench_state import clear_store
from braze_sim.testing import RunningSim, running_sim
from komo_braze.http import start_site
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import RunningWorker, acked, body, dead_letters, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper

#: the worker probes a long pause this often in these tests (a minute by default)
PROBE_S = 1.0


async def _hostile_requests(sim: RunningSim, kind: str) -> int:
    return sum(entry["note"] == f"hostile {kind}" for entry in await sim.client.requests())


async def _event_ids(sim: RunningSim) -> list[str]:
    return [e["properties"]["submission_id"] for e in await sim.client.events(limit=100_000)]


async def _at_least(worker: RunningWorker, name: str, minimum: float, **labels: str) -> bool:
    return worker.value(name, **labels) >= minimum


@pytest.mark.parametrize("kind", ["html_200", "truncated_json", "json_array_200"])
async def test_a_2xx_that_is_not_a_json_object_is_retried_never_acked(broker: BrokerKit, kind: str) -> None:
    bodies = [body(f"user-{n}") for n in range(20)]
    async with _hostile(broker, kind) as (sim, worker):
        await publish(broker, bodies)
        await eventually(lambda: _sim_saw(sim, kind, 3), what=f"three {kind} answers")
        assert worker.value("messages_acked_total", workspace="default") == 0
        assert await sim.client.events() == []
        assert worker.value("retries_total", workspace="default", reason="not_json_2xx") >= 1
        await sim.client.set_faults(clear=True)
        await eventually(acked(worker, 20), timeout_s=30, what="20 acks once Braze answers with JSON")
        assert sorted(await _event_ids(sim)) == sorted(b["submission_id"] for b in bodies)
        assert await dead_letters(broker) == []


async def _sim_saw(sim: RunningSim, kind: str, count: int) -> bool:
    return await _hostile_requests(sim, kind) >= count


async def test_braze_documented_202_queued_is_success(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        _stand_in(lambda _request: web.json_response({"message": "queued"}, status=202)) as braze,
        running_worker(broker, SimpleMapper(), braze_url=braze.url) as worker,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(20)])
        await eventually(acked(worker, 20), what="20 acks")
        assert worker.value("requests_total", workspace="default", status="202") == braze.requests
        assert await dead_letters(broker) == []


@pytest.mark.parametrize("kind", ["nan_headers", "negative_headers", "huge_headers"])
async def test_unusable_rate_limit_headers_are_ignored_and_counted_and_the_worker_runs_on(
    broker: BrokerKit, kind: str
) -> None:
    bodies = [body(f"user-{n}") for n in range(20)]
    async with _hostile(broker, kind) as (sim, worker):
        await publish(broker, bodies)
        await eventually(acked(worker, 20), what="20 acks")
        await asyncio.sleep(0.5)  # a crash after the answer would show now
        assert not worker.task.done()
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert worker.value("rate_limit_header_unusable_total", workspace="default", header=header) >= 1
        ids = await _event_ids(sim)
        assert sorted(ids) == sorted(b["submission_id"] for b in bodies)  # each exactly once
        assert await dead_letters(broker) == []


@pytest.mark.parametrize(
    ("kind", "probed", "shared"),
    [
        ("far_reset", True, False),
        ("429_far_reset", True, False),
        ("429_retry_after_huge", True, False),
        ("ms_reset", False, False),  # read as milliseconds: the pause ends with the real window (a probe may come)
        # with the rate limit shared in Redis the absurd 429 reaches every worker's schedule: a sane probe
        # must end it there too, not only in this process's pacer
        ("429_far_reset", True, True),
        ("429_retry_after_huge", True, True),
    ],
)
async def test_an_absurd_pause_is_probed_and_delivery_resumes_once_braze_answers_sanely(
    broker: BrokerKit, redis_url: str, kind: str, probed: bool, shared: bool
) -> None:
    first, second = [body(f"user-{n}") for n in range(10)], [body(f"later-{n}") for n in range(10)]
    store = {"state_url": redis_url} if shared else {}
    try:
        async with _hostile(broker, kind, braze_pause_probe_s=PROBE_S, **store) as (sim, worker):
            await publish(broker, first)
            await eventually(lambda: _sim_saw(sim, kind, 1), what=f"a {kind} answer")
            await sim.client.set_faults(clear=True)
            await publish(broker, second)
            # a probe within PROBE_S sees sane headers; the rest is the worker's usual pace
            await eventually(acked(worker, 20), timeout_s=15, what="20 acks after Braze answered sanely")
            assert sorted(await _event_ids(sim)) == sorted(b["submission_id"] for b in first + second)
            if probed:
                assert worker.value("pause_probes_total", workspace="default") >= 1
            if shared:
                assert worker.value("shared_limit", workspace="default") == 1  # paced in Redis all along
            assert await dead_letters(broker) == []
    finally:
        if shared:
            await clear_store(redis_url, broker.prefix)


@pytest.mark.parametrize("kind", ["429_retry_after_negative", "429_retry_after_garbage", "429_retry_after_date"])
async def test_a_negative_or_unreadable_retry_after_makes_no_hot_loop(broker: BrokerKit, kind: str) -> None:
    async with _hostile(broker, kind) as (sim, worker):
        await publish(broker, [body(f"user-{n}") for n in range(20)])
        await eventually(lambda: _sim_saw(sim, kind, 1), what=f"a {kind} answer")
        started = time.monotonic()
        before = (await sim.client.stats())["requests"]
        await asyncio.sleep(1.5)  # at most two tries at the floor's pace; hundreds in a hot loop
        rate = ((await sim.client.stats())["requests"] - before) / (time.monotonic() - started)
        assert rate <= 2.0  # at least a second between tries (826 a second in this test before the floor)
        await sim.client.set_faults(clear=True)
        await eventually(acked(worker, 20), timeout_s=15, what="20 acks after the 429s")
        assert len(await sim.client.events()) == 20


async def test_a_redirect_is_a_configuration_fault_and_nothing_goes_to_the_other_origin(broker: BrokerKit) -> None:
    await broker.declare()
    bodies = [body(f"user-{n}") for n in range(20)]
    async with (
        _stand_in(lambda _request: web.json_response({"message": "success"}, status=201)) as other,
        running_sim(hostile_rate=1.0, hostile_kinds=["redirect"], redirect_to=f"{other.url}/users/track") as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker,
    ):
        with structlog.testing.capture_logs() as logged:
            await publish(broker, bodies)
            await eventually(
                lambda: _at_least(worker, "config_faults_total", 1, workspace="default", status="307"),
                what="a configuration fault",
            )
            assert worker.value("breaker_state", workspace="default") >= 1
            await eventually(lambda: _sim_saw(sim, "redirect", 2), what="a probe redirected too")
        assert other.requests == 0  # the batch (personal data) never left for the other origin
        assert worker.value("messages_acked_total", workspace="default") == 0
        assert [e["status"] for e in logged if e["event"] == "braze_configuration_fault"] == [307]
        assert [e["log_level"] for e in logged if e["event"] == "braze_configuration_fault"] == ["critical"]
        await sim.client.set_faults(clear=True)
        await eventually(acked(worker, 20), timeout_s=30, what="20 acks once the redirect is gone")
        assert sorted(await _event_ids(sim)) == sorted(b["submission_id"] for b in bodies)
        assert await dead_letters(broker) == []


@asynccontextmanager
async def _hostile(broker: BrokerKit, kind: str, **settings: Any) -> AsyncIterator[tuple[RunningSim, RunningWorker]]:
    """braze_sim answering every request with ``kind``, and a worker on ``broker`` sending to it."""
    await broker.declare()
    async with (
        running_sim(hostile_rate=1.0, hostile_kinds=[kind]) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, **settings) as worker,
    ):
        yield sim, worker


class _StandIn:
    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0


@asynccontextmanager
async def _stand_in(answer: Callable[[web.Request], web.StreamResponse]) -> AsyncIterator[_StandIn]:
    """A stand-in HTTP server on loopback answering every ``POST /users/track`` with ``answer(request)``."""
    app = web.Application()
    stand_in = _StandIn("")

    async def handle(request: web.Request) -> web.StreamResponse:
        stand_in.requests += 1
        await request.read()
        return answer(request)

    app.router.add_post("/users/track", handle)
    runner, port = await start_site(app, "127.0.0.1", 0)
    stand_in.url = f"http://127.0.0.1:{port}"
    try:
        yield stand_in
    finally:
        await runner.cleanup()
