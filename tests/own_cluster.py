"""A three-node RabbitMQ cluster of the test's own, for tests that lose a node under load.

Each node is an :class:`tests.own_broker.OwnBroker` (own name, AMQP and distribution ports, data and log
directories); they share one Erlang cookie (one ``HOME``), start in parallel, and the second and third
join the first with ``rabbitmqctl join_cluster``. The shared broker on 5672 is never touched. Usage::

    async with own_cluster() as cluster:
        url = cluster.amqp_url                  # every node's address, comma-separated
        leader = await cluster.leader_of("q")   # the node holding a quorum queue's leader
        await cluster.node(leader).stop()
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.own_broker import OwnBroker, prepare_node, require_server


class ClusterError(RuntimeError):
    """A ``rabbitmqctl`` call failed; the message carries its output."""


@dataclass
class OwnCluster:
    nodes: list[OwnBroker]

    @property
    def amqp_url(self) -> str:
        """Every node's AMQP URL, comma-separated (``KOMO_BRAZE_AMQP_URL`` for a cluster)."""
        return ",".join(node.amqp_url for node in self.nodes)

    def node(self, name: str) -> OwnBroker:
        return next(node for node in self.nodes if node.node == name)

    def node_on_port(self, port: int) -> OwnBroker:
        return next(node for node in self.nodes if node.port == port)

    def running(self) -> list[OwnBroker]:
        return [node for node in self.nodes if node.process is not None]

    async def ctl_json(self, *args: str) -> Any:
        """``rabbitmqctl ARGS --formatter json`` on a running node, parsed."""
        result = await _ctl(self.running()[0], *args, "--formatter", "json")
        return json.loads(result.stdout)

    async def _queue(self, queue: str, column: str) -> Any:
        """``column`` of ``rabbitmqctl list_queues`` for quorum queue ``queue`` (as the broker says now)."""
        for row in await self.ctl_json("list_queues", "name", column):
            if row["name"] == queue:
                return row[column]
        raise ClusterError(f"no queue {queue!r}")

    async def leader_of(self, queue: str) -> str:
        """The node holding the leader of quorum queue ``queue``."""
        return str(await self._queue(queue, "leader"))

    async def members_of(self, queue: str) -> list[str]:
        return sorted(str(member) for member in await self._queue(queue, "members"))

    async def consumers_of(self, queue: str) -> int:
        return int(await self._queue(queue, "consumers"))

    async def connection_node(self, connection_name: str) -> str:
        """The node a client connection named ``connection_name`` is attached to (by the port it reached)."""
        rows = await self.ctl_json("list_connections", "client_properties", "port")
        for row in rows:
            properties = row["client_properties"]
            names = [p[2] for p in properties if isinstance(p, list) and p[0] == "connection_name"]
            if connection_name in names:
                return self.node_on_port(int(row["port"])).node
        raise ClusterError(f"no connection named {connection_name!r}")


def _plugins(management: bool, *, first: bool) -> tuple[str, ...]:
    if not management:
        return ()
    return ("rabbitmq_management",) if first else ("rabbitmq_management_agent",)


async def _ctl(node: OwnBroker, *args: str) -> subprocess.CompletedProcess[str]:
    result = await asyncio.to_thread(node.ctl, *args)
    if result.returncode != 0:
        raise ClusterError(f"rabbitmqctl -n {node.node} {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


async def _join(node: OwnBroker, seed: OwnBroker) -> None:
    await _ctl(node, "stop_app")
    await _ctl(node, "join_cluster", seed.node)
    await _ctl(node, "start_app")


@asynccontextmanager
async def own_cluster(
    size: int = 3, config: Mapping[str, object] | None = None, *, management: bool = False
) -> AsyncIterator[OwnCluster]:
    """Start ``size`` nodes in parallel, cluster them, and stop and remove them all afterwards; with
    ``management``, the first node serves the management API (the others run its agent)."""
    require_server()
    base = Path(tempfile.mkdtemp(prefix="kb-cluster-"))
    cookie = base / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(16))
    cookie.chmod(0o400)
    nodes = [
        prepare_node(base / f"node{n}", base, config=config, plugins=_plugins(management, first=n == 1))
        for n in range(1, size + 1)
    ]
    cluster = OwnCluster(nodes)
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        for node in nodes[1:]:
            await _join(node, nodes[0])
        yield cluster
    finally:
        try:
            await asyncio.gather(*(node.stop() for node in nodes), return_exceptions=True)
        finally:
            shutil.rmtree(base, ignore_errors=True)
