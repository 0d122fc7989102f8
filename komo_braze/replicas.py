"""Where the replicas of each quorum queue are, as the broker says, and what that means for durability.

AMQP says nothing about replicas; RabbitMQ's management API does (``GET /api/queues/{vhost}/{name}``:
``members``, ``online``, ``leader``; ``GET /api/nodes``: the cluster's nodes). ``komo-braze topology``
asks it when ``KOMO_BRAZE_MANAGEMENT_URL`` is set, with the first AMQP address's credentials.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiohttp

from komo_braze.settings import Settings

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Replicas:
    """One quorum queue's replicas: every member node, those online now, and the leader's node."""

    members: tuple[str, ...]
    online: tuple[str, ...]
    leader: str | None

    @property
    def tolerates(self) -> int:
        """Nodes that may be lost while a majority of the replicas stays (the queue keeps working)."""
        return (len(self.members) - 1) // 2

    def describe(self) -> str:
        text = f"{len(self.online)}/{len(self.members)} online"
        return f"{text}, leader {self.leader}" if self.leader else text


@dataclass(frozen=True, slots=True)
class ClusterView:
    nodes: tuple[str, ...]  # the cluster's nodes that run now
    queues: dict[str, Replicas]


class ManagementUnavailable(Exception):
    """The management API could not be asked; the message is one line, without credentials."""


async def cluster_view(settings: Settings, queue_names: Iterable[str]) -> ClusterView:
    """Ask the management API about the cluster and ``queue_names``; raises :class:`ManagementUnavailable`."""
    if settings.management_url is None:
        raise ManagementUnavailable("KOMO_BRAZE_MANAGEMENT_URL is not set")
    base = str(settings.management_url).rstrip("/")
    amqp = urlsplit(settings.amqp_urls[0])
    credentials = f"{unquote(amqp.username or 'guest')}:{unquote(amqp.password or 'guest')}"
    headers = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii")}
    vhost = quote(unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/", safe="")
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
            nodes = await _get(session, f"{base}/api/nodes?columns=name,running")
            answers = {
                name: await _get(session, f"{base}/api/queues/{vhost}/{quote(name, safe='')}") for name in queue_names
            }
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ManagementUnavailable(f"management API at {base} did not answer ({type(exc).__name__})") from exc
    try:
        queues = {
            name: Replicas(tuple(queue.get("members") or ()), tuple(queue.get("online") or ()), queue.get("leader"))
            for name, queue in answers.items()
        }
        return ClusterView(tuple(sorted(n["name"] for n in nodes if n.get("running"))), queues)
    except (AttributeError, KeyError, TypeError) as exc:  # another service at that URL
        raise ManagementUnavailable(f"management API at {base} answered, but not as RabbitMQ's does") from exc


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        if response.status != 200:
            raise ManagementUnavailable(f"management API answered {response.status} to {url.split('?')[0]}")
        return await response.json()


def durability_note(view: ClusterView | None) -> str:
    """One paragraph for an operator: what the replicas (or a single node) mean if a node is lost."""
    single = (
        "a quorum queue on one node keeps every confirmed message on disk through a broker restart, but "
        "losing that machine or its disk loses them; a three-node cluster keeps two replicas of three "
        "and rides out the loss of any one node"
    )
    if view is None:
        return f"replicas unknown (see `rabbitmq-queues quorum_status QUEUE` on a node); {single}"
    if len(view.nodes) <= 1:
        return f"one node ({', '.join(view.nodes) or 'unknown'}): {single}"
    weakest = min(view.queues.values(), key=lambda r: r.tolerates, default=None)
    if weakest is None or weakest.tolerates == 0:
        return f"{len(view.nodes)} nodes, but a queue has fewer than 3 replicas: losing one of its nodes stops it"
    return (
        f"{len(view.nodes)} nodes; every queue survives the loss of {weakest.tolerates} node(s) holding its replicas "
        "(clients fail over to the next address in KOMO_BRAZE_AMQP_URL)"
    )
