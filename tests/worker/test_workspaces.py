"""Several Braze workspaces, and pacing by each one's own rate-limit headers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from braze_sim.testing import running_sim
from komo_braze.settings import load_settings
from komo_braze.topology import queue_counts
from tests.broker import BrokerKit
from tests.cli import run_komo_braze
from tests.waiting import eventually
from tests.worker.harness import acked, body, dead_letters, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper, Spec
from worker.mapping import MappingConfig
from worker.workspaces import ConfigurationError, Selection, resolve_targets, select_workspaces


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
        await eventually(acked(w, 120), timeout_s=60, what="120 acks")
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
            await eventually(acked(worker, 30, "client_b"), timeout_s=60, what="workspace b delivered")
            await eventually(acked(worker, 30, "default"), timeout_s=10, what="workspace a delivered")
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
            await eventually(acked(worker, 10, "default"), what="workspace a delivered")
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

        await eventually(all_acked, timeout_s=60, what="120 acks between the two workers")
        assert first.value("messages_acked_total", workspace="default") > 0
        assert second.value("messages_acked_total", workspace="default") > 0
        accepted = len(await sim.client.requests(status=201))
        throttled = len(await sim.client.requests(status=429))
        assert accepted >= 30
        assert throttled <= 0.1 * accepted  # the headers are their only shared view, and it is enough
        assert len(await sim.client.events()) == 120


MAPPING_TEXT = """
workspaces:
  client_b: {url: "http://127.0.0.1:1", api_key_env: CLIENT_B_BRAZE_KEY}
  client_c: {url: "http://127.0.0.1:1", api_key_env: CLIENT_C_BRAZE_KEY}
hubs:
  "*": {identify: {by: external_id, field: customer_id}}
  hub-b: {workspace: client_b, identify: {by: external_id, field: customer_id}}
  hub-c: {workspace: client_c, identify: {by: external_id, field: customer_id}}
"""


def test_without_workspace_flags_a_worker_consumes_every_queue() -> None:
    mapping = MappingConfig.from_text(MAPPING_TEXT)
    assert select_workspaces(mapping) == Selection(
        queues=("client_b", "client_c", "default"), deliver_to=("client_b", "client_c", "default")
    )


def test_a_named_workspace_alone_is_its_queue_and_its_settings_only() -> None:
    mapping = MappingConfig.from_text(MAPPING_TEXT)
    assert select_workspaces(mapping, ["client_c"]) == Selection(queues=("client_c",), deliver_to=("client_c",))
    settings = load_settings(braze_url=None, braze_api_key=None)
    targets = resolve_targets(settings, mapping, {"CLIENT_C_BRAZE_KEY": "key-c"}, ["client_c"])
    assert [(t.workspace, t.api_key.get_secret_value()) for t in targets] == [("client_c", "key-c")]


def test_the_default_queue_also_delivers_where_the_star_entry_sends() -> None:
    mapping = MappingConfig.from_text(MAPPING_TEXT.replace('"*": {', '"*": {workspace: client_b, '))
    assert select_workspaces(mapping, ["default"]) == Selection(queues=("default",), deliver_to=("client_b",))


def test_an_unknown_workspace_is_refused_with_the_known_ones_named() -> None:
    mapping = MappingConfig.from_text(MAPPING_TEXT)
    with pytest.raises(ConfigurationError) as caught:
        select_workspaces(mapping, ["client_b", "clinet_c"])
    assert str(caught.value) == (
        "--workspace clinet_c: not in the mapping, whose workspaces are client_b, client_c, default"
    )


async def test_the_command_line_refuses_an_unknown_workspace_in_one_line(broker: BrokerKit, tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING_TEXT)
    env = broker.env(KOMO_BRAZE_BRAZE_URL="http://127.0.0.1:9", KOMO_BRAZE_BRAZE_API_KEY="test-key")
    finished = await run_komo_braze("worker", "--mapping", str(mapping_file), "--workspace", "nope", env=env)
    assert finished.status == os.EX_CONFIG
    [event] = finished.stderr_events()
    assert event["problem"] == "--workspace nope: not in the mapping, whose workspaces are client_b, client_c, default"


async def test_a_worker_of_one_workspace_consumes_its_queue_only_without_the_default_settings(
    broker: BrokerKit,
) -> None:
    broker.workspaces.add("client_b")
    mapper = _two_workspaces("")
    await broker.declare(workspace_hubs=mapper.workspace_hubs())
    async with running_sim(api_keys=("b=key-b",)) as sim:
        async with running_worker(
            broker,
            _two_workspaces(sim.url),
            braze_url=None,
            api_key=None,
            environ={"CLIENT_B_BRAZE_KEY": "key-b"},
            workspaces=["client_b"],
        ) as worker:
            await publish(broker, [body(f"a-{n}", hub="hub-a") for n in range(5)])
            await publish(broker, [body(f"b-{n}", hub="hub-b") for n in range(7)])
            await eventually(acked(worker, 7, "client_b"), what="workspace b delivered")
            assert {p["external_id"] for p in await sim.client.profiles(workspace="b")} == {f"b-{n}" for n in range(7)}
            async with broker.connection() as connection:
                assert await queue_counts(connection, broker.names.work_queue()) == (5, 0)
                assert await queue_counts(connection, broker.names.work_queue("client_b")) == (0, 1)
            assert worker.value("messages_acked_total", workspace="default") == 0
        assert await dead_letters(broker) == []
