"""``komo-braze topology`` on a three-node cluster: the replicas of each queue, as the broker says them."""

from __future__ import annotations

import orjson
import pytest

from devtools.components import component_env
from komo_braze import topology
from tests.broker import unique_prefix
from tests.cli import run_komo_braze
from tests.own_cluster import OwnCluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120), pytest.mark.asyncio(loop_scope="session")]


async def run_topology(cluster: OwnCluster, prefix: str, **settings: str) -> dict[str, object]:
    env = component_env(
        amqp_url=cluster.amqp_url, prefix=prefix, management_url=cluster.nodes[0].management_url, **settings
    )
    finished = await run_komo_braze("topology", "--apply", "--json", env=env)
    assert finished.status == 0, finished.stderr[-2000:]
    stdout = finished.stdout
    document: dict[str, object] = orjson.loads(stdout)
    return document


def queues(document: dict[str, object]) -> dict[str, dict[str, object]]:
    objects = document["objects"]
    assert isinstance(objects, list)
    return {str(row["name"]): row for row in objects if "queue" in str(row["kind"])}


async def test_by_default_every_queue_has_a_replica_on_every_node_and_survives_losing_one(
    cluster: OwnCluster,
) -> None:
    prefix = unique_prefix("replicas")
    document = await run_topology(cluster, prefix)
    names = topology.Names(prefix)
    every_node = sorted(node.node for node in cluster.nodes)
    for name in (names.work_queue(), names.dead_queue):
        assert sorted(queues(document)[name]["members"]) == every_node  # type: ignore[call-overload]
        assert await cluster.members_of(name) == every_node
        assert str(queues(document)[name]["replicas"]).startswith("3/3 online, leader kb-test-")
    assert document["durability"] == (
        "3 nodes; every queue survives the loss of 1 node(s) holding its replicas "
        "(clients fail over to the next address in KOMO_BRAZE_AMQP_URL)"
    )
    assert "guest:guest" not in str(document["broker"])
    assert str(document["broker"]).count(":***@") == 3


async def test_two_replicas_are_declared_when_asked_and_the_check_says_what_that_costs(cluster: OwnCluster) -> None:
    prefix = unique_prefix("replicas")
    document = await run_topology(cluster, prefix, quorum_replicas="2")
    names = topology.Names(prefix)
    for name in (names.work_queue(), names.dead_queue):
        assert len(await cluster.members_of(name)) == 2
        assert queues(document)[name]["replicas"] is not None
        assert str(queues(document)[name]["replicas"]).startswith("2/2 online")
    assert document["durability"] == (
        "3 nodes, but a queue has fewer than 3 replicas: losing one of its nodes stops it"
    )
