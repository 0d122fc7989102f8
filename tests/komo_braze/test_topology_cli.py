"""``komo-braze topology``: describes without declaring, declares with ``--apply``, shows the mapping's
workspaces and bindings, and never cuts a name."""

from __future__ import annotations

import os
from pathlib import Path

import aio_pika
import orjson

from komo_braze import topology
from tests.broker import BrokerKit
from tests.cli import run_komo_braze

HUB = "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"
MAPPING = f"""
workspaces:
  client_b: {{url: "https://rest.fra-01.braze.eu", api_key_env: CLIENT_B_BRAZE_KEY}}
hubs:
  "*":
    identify: {{by: external_id, field: customer_id}}
    attributes: {{first_name: first_name}}
  "{HUB}":
    workspace: client_b
    identify: {{by: email, field: email}}
    attributes: {{first_name: first_name}}
"""


def _mapping(tmp_path: Path) -> str:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING)
    return str(path)


async def _existing(broker: BrokerKit) -> list[str]:
    """The names of this prefix's objects that exist on the broker."""
    names = broker.names
    found = []
    async with broker.connection() as connection:
        for exchange in (names.exchange, names.unrouted_exchange, names.dead_exchange):
            if await topology.exchange_exists(connection, exchange):
                found.append(exchange)
        for queue in (names.work_queue(), names.work_queue("client_b"), names.dead_queue):
            if await topology.queue_counts(connection, queue) is not None:
                found.append(queue)
    return found


async def test_a_prefix_with_nothing_declared_is_said_to_be_missing_and_stays_empty(broker: BrokerKit) -> None:
    finished = await run_komo_braze("topology", env=broker.env(KOMO_BRAZE_LOG_FORMAT="console"))
    assert finished.status == os.EX_NOINPUT
    assert finished.stdout == ""
    assert finished.stderr_lines == [
        f"Error: nothing is declared under prefix {broker.prefix!r} on amqp://guest:***@localhost:5672/ "
        "(a mistyped prefix? `komo-braze topology --apply` declares it)"
    ]
    assert await _existing(broker) == []


async def test_apply_declares_the_mapping_s_workspaces_and_bindings_and_json_shows_them(
    broker: BrokerKit, tmp_path: Path
) -> None:
    broker.workspaces.add("client_b")
    mapping = _mapping(tmp_path)
    applied = await run_komo_braze("topology", "--apply", "--mapping", mapping, env=broker.env())
    assert applied.status == 0, applied.stderr
    names = broker.names
    assert await _existing(broker) == [
        names.exchange,
        names.unrouted_exchange,
        names.dead_exchange,
        names.work_queue(),
        names.work_queue("client_b"),
        names.dead_queue,
    ]
    async with broker.connection() as connection:  # the binding is real: the hub's messages go to client_b
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.exchange)
        await exchange.publish(aio_pika.Message(b"{}"), routing_key=f"hub.{HUB}")
    assert await broker.wait_for_count(names.work_queue("client_b"), 1) == 1

    shown = await run_komo_braze("topology", "--mapping", mapping, "--json", env=broker.env())
    assert shown.status == 0, shown.stderr
    queues = {o["name"]: o for o in orjson.loads(shown.stdout)["objects"] if o["kind"] != "exchange"}
    assert queues[names.work_queue("client_b")] == {
        "kind": "work queue",
        "name": names.work_queue("client_b"),
        "type": "quorum",
        "exists": True,
        "workspace": "client_b",
        "bindings": [{"exchange": names.exchange, "routing_key": f"hub.{HUB}"}],
        "messages": 1,
        "consumers": 0,
        "replicas": None,  # no KOMO_BRAZE_MANAGEMENT_URL: the broker was not asked (tests/cluster asks it)
        "members": None,
    }
    assert queues[names.work_queue()]["bindings"] == [{"exchange": names.unrouted_exchange, "routing_key": ""}]
    assert orjson.loads(shown.stdout)["replicas_unknown"] == "KOMO_BRAZE_MANAGEMENT_URL is not set"


async def test_a_workspace_queue_not_declared_yet_is_named_with_the_table_still_shown(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await broker.declare()
    finished = await run_komo_braze(
        "topology", "--mapping", _mapping(tmp_path), env=broker.env(KOMO_BRAZE_LOG_FORMAT="console")
    )
    assert finished.status == os.EX_NOINPUT
    assert f"{broker.names.work_queue('client_b')} (missing)" in finished.stdout
    assert finished.stderr_lines == [
        f"Error: 1 object(s) do not exist: {broker.names.work_queue('client_b')} "
        "(`komo-braze topology --apply` declares them)"
    ]
    assert broker.names.work_queue("client_b") not in await _existing(broker)


async def test_a_narrow_terminal_gets_whole_names(broker: BrokerKit, tmp_path: Path) -> None:
    broker.workspaces.add("client_b")
    await broker.declare(workspace_hubs={"client_b": [HUB]})
    finished = await run_komo_braze("topology", "--mapping", _mapping(tmp_path), env=broker.env(COLUMNS="30"))
    assert finished.status == 0, finished.stderr
    names = broker.names
    for name in (names.exchange, names.unrouted_exchange, names.work_queue("client_b"), names.dead_queue):
        assert f" {name} " in finished.stdout
    assert f"{names.exchange} ← hub.{HUB}" in finished.stdout
