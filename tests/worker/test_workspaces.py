"""Several Braze workspaces, and pacing by each one's own rate-limit headers."""

from __future__ import annotations

from typing import Any

from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.worker.harness import acked, body, dead_letters, publish, running_worker, wait_until
from tests.worker.simple_mapper import SimpleMapper, Spec


def _two_workspaces(url: str) -> SimpleMapper:
    return SimpleMapper(
        hub_workspaces={"hub-b": "client_b"},
        specs={"client_b": Spec("client_b", url=url, api_key_env="CLIENT_B_BRAZE_KEY")},
    )


async def test_pacing_against_a_low_limit_delivers_everything_with_few_429s(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim(rate_limit="10/1s") as sim,
        # small bodies: about 3 submissions per request, so ~40 requests against 10 per second
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_max_bytes=1024, batch_linger_ms=0) as w,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(120)])
        await wait_until(acked(w, 120), timeout_s=60, what="120 acks")
        stats = await sim.client.stats()
        accepted = len(await sim.client.requests(status=201))
        throttled = len(await sim.client.requests(status=429))
        assert accepted >= 30, stats
        assert throttled <= 2, stats
        assert await dead_letters(broker) == []
        assert len(await sim.client.events()) == 120
        assert w.value("rate_limit_remaining", workspace="default") < 10


async def test_two_workspaces_never_mix_batches_and_each_is_paced_by_its_own_headers(broker: BrokerKit) -> None:
    broker.workspaces.add("client_b")
    mapper = _two_workspaces("")
    await broker.declare(workspace_hubs=mapper.workspace_hubs())
    async with running_sim(api_keys=("a=key-a", "b=key-b")) as sim:
        await sim.client.set_rate_limit("5/1s", workspace="b")
        mapper = _two_workspaces(sim.url)
        async with running_worker(
            broker,
            mapper,
            braze_url=sim.url,
            api_key="key-a",
            environ={"CLIENT_B_BRAZE_KEY": "key-b"},
            batch_max_bytes=1024,
            batch_linger_ms=0,
        ) as worker:
            await publish(broker, [body(f"a-{n}", hub="hub-a") for n in range(30)])
            await publish(broker, [body(f"b-{n}", hub="hub-b") for n in range(30)])
            await wait_until(acked(worker, 30, "client_b"), timeout_s=60, what="workspace b delivered")
            await wait_until(acked(worker, 30, "default"), timeout_s=10, what="workspace a delivered")
            in_a = {p["external_id"] for p in await sim.client.profiles(workspace="a")}
            in_b = {p["external_id"] for p in await sim.client.profiles(workspace="b")}
            assert in_a == {f"a-{n}" for n in range(30)}
            assert in_b == {f"b-{n}" for n in range(30)}
            log = [(round(r["at"] % 100, 3), r["status"]) for r in await sim.client.requests() if r["workspace"] == "b"]
            assert len(await sim.client.requests(status=429)) <= 2, sorted(log)
            assert worker.value("rate_limit_remaining", workspace="client_b") < 5
            assert worker.value("rate_limit_remaining", workspace="default") > 100


async def test_a_revoked_key_in_one_workspace_does_not_stop_the_other(broker: BrokerKit) -> None:
    broker.workspaces.add("client_b")
    mapper = _two_workspaces("")
    await broker.declare(workspace_hubs=mapper.workspace_hubs())
    async with running_sim(api_keys=("a=key-a", "b=key-b")) as sim:
        async with running_worker(
            broker,
            _two_workspaces(sim.url),
            braze_url=sim.url,
            api_key="key-a",
            environ={"CLIENT_B_BRAZE_KEY": "revoked"},
            shutdown_grace_s=1.0,  # client_b's batch waits at its open breaker until the grace runs out
        ) as worker:
            await publish(broker, [body(f"b-{n}", hub="hub-b") for n in range(10)])
            await publish(broker, [body(f"a-{n}", hub="hub-a") for n in range(10)])
            await wait_until(acked(worker, 10, "default"), what="workspace a delivered")
            assert worker.value("config_faults_total", workspace="client_b", status="401") >= 1
            assert worker.value("breaker_state", workspace="client_b") >= 1
            assert worker.value("messages_acked_total", workspace="client_b") == 0
            assert worker.value("messages_held", workspace="client_b") == 10
        assert await dead_letters(broker) == []
        # held, never acked: back on client_b's queue once the worker stopped
        assert await broker.wait_for_count(broker.names.work_queue("client_b"), 10) == 10


async def test_two_workers_sharing_a_workspace_stay_under_its_limit_together(broker: BrokerKit) -> None:
    await broker.declare()
    options: dict[str, Any] = {"batch_max_bytes": 1024, "batch_linger_ms": 0, "braze_max_in_flight": 4}
    async with (
        running_sim(rate_limit="10/1s") as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, **options) as first,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, **options) as second,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(120)])

        async def all_acked() -> bool:
            total = first.value("messages_acked_total", workspace="default")
            return total + second.value("messages_acked_total", workspace="default") >= 120

        await wait_until(all_acked, timeout_s=60, what="120 acks between the two workers")
        assert first.value("messages_acked_total", workspace="default") > 0
        assert second.value("messages_acked_total", workspace="default") > 0
        accepted = len(await sim.client.requests(status=201))
        throttled = len(await sim.client.requests(status=429))
        assert accepted >= 30
        assert throttled <= 0.1 * accepted  # the headers are their only shared view, and it is enough
        assert len(await sim.client.events()) == 120
