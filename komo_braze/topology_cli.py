"""``komo-braze topology``: describe the broker objects of a prefix, and declare them with ``--apply``.

Without ``--apply`` nothing is declared: every object is looked at with a passive declare, so a
mistyped prefix answers "does not exist" (exit status 66) instead of creating an empty topology. The
bindings shown are the ones the topology and the mapping call for (AMQP cannot list bindings). Each
queue's replicas come from the management API when ``KOMO_BRAZE_MANAGEMENT_URL`` is set
(:mod:`komo_braze.replicas`), followed by what they mean if a node is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import orjson
from rich.console import Console
from rich.table import Table

from komo_braze import topology
from komo_braze.addresses import redact
from komo_braze.amqp import connect_once
from komo_braze.envelope import routing_key
from komo_braze.failures import TopologyMissing
from komo_braze.replicas import ClusterView, ManagementUnavailable, cluster_view, durability_note
from komo_braze.settings import Settings

#: the width a table is measured in, to learn how wide it wants to be
UNBOUNDED_WIDTH = 10_000
COLUMNS = ("kind", "name", "workspace", "type / bound to", "messages", "consumers", "replicas")


@dataclass(frozen=True, slots=True)
class Binding:
    exchange: str
    routing_key: str

    def __str__(self) -> str:
        return f"{self.exchange} ← {self.routing_key}" if self.routing_key else f"{self.exchange} (all)"


@dataclass(slots=True)
class BrokerObject:
    kind: str
    name: str
    type: str
    exists: bool = False
    workspace: str | None = None
    bindings: list[Binding] = field(default_factory=list)
    messages: int | None = None
    consumers: int | None = None
    replicas: str | None = None  # "3/3 online, leader rabbit@…", from the management API
    members: list[str] | None = None


def expected_objects(prefix: str, workspace_hubs: Mapping[str, Sequence[str]]) -> list[BrokerObject]:
    """Every object :func:`komo_braze.topology.declare` makes for ``prefix`` and these workspaces."""
    names = topology.Names(prefix)
    objects = [
        BrokerObject("exchange", names.exchange, f"topic, alternate exchange {names.unrouted_exchange}"),
        BrokerObject("exchange", names.unrouted_exchange, "fanout (alternate)"),
        BrokerObject("exchange", names.dead_exchange, "fanout"),
    ]
    for workspace in [topology.DEFAULT_WORKSPACE, *sorted(set(workspace_hubs) - {topology.DEFAULT_WORKSPACE})]:
        bindings = [Binding(names.unrouted_exchange, "")] if workspace == topology.DEFAULT_WORKSPACE else []
        bindings += [Binding(names.exchange, routing_key(hub)) for hub in workspace_hubs.get(workspace, ())]
        queue = BrokerObject(
            "work queue", names.work_queue(workspace), "quorum", workspace=workspace, bindings=bindings
        )
        objects.append(queue)
    dead = BrokerObject("dead-letter queue", names.dead_queue, "quorum", bindings=[Binding(names.dead_exchange, "")])
    objects.append(dead)
    return objects


async def describe(
    settings: Settings, *, workspace_hubs: Mapping[str, Sequence[str]], apply: bool, as_json: bool
) -> None:
    """Print the objects of ``settings.prefix``; raises :class:`TopologyMissing` if any is missing."""
    objects = expected_objects(settings.prefix, workspace_hubs)
    connection = await connect_once(settings, "topology")
    async with connection:
        if apply:
            channel = await connection.channel()
            await topology.declare(
                channel,
                settings.prefix,
                delivery_limit=settings.delivery_limit,
                replicas=settings.quorum_replicas,
                workspace_hubs=workspace_hubs,
            )
            await channel.close()
        for item in objects:
            if item.kind == "exchange":
                item.exists = await topology.exchange_exists(connection, item.name)
                continue
            counts = await topology.queue_counts(connection, item.name)
            item.exists = counts is not None
            item.messages, item.consumers = counts if counts else (None, None)
    broker = redact(settings.amqp_urls)
    missing = [item.name for item in objects if not item.exists]
    if len(missing) == len(objects):
        raise TopologyMissing(
            f"nothing is declared under prefix {settings.prefix!r} on {broker} "
            "(a mistyped prefix? `komo-braze topology --apply` declares it)"
        )
    queues = [item for item in objects if item.exists and item.kind != "exchange"]
    view, why_unknown = await _replicas(settings, [item.name for item in queues])
    for item in queues:
        replicas = view.queues.get(item.name) if view else None
        item.replicas = replicas.describe() if replicas else None
        item.members = list(replicas.members) if replicas else None
    durability = durability_note(view)
    if as_json:
        document = {
            "broker": broker,
            "prefix": settings.prefix,
            "objects": [asdict(item) for item in objects],
            "durability": durability,
            "replicas_unknown": why_unknown,
        }
        print(orjson.dumps(document).decode())
    else:
        console = _print_table(objects, f"broker objects of prefix {settings.prefix!r} on {broker}")
        if why_unknown:
            console.print(f"replicas: {why_unknown}", highlight=False)
        console.print(f"durability: {durability}", highlight=False)
    if missing:
        raise TopologyMissing(
            f"{len(missing)} object(s) do not exist: {', '.join(missing)} (`komo-braze topology --apply` declares them)"
        )


async def _replicas(settings: Settings, queue_names: list[str]) -> tuple[ClusterView | None, str | None]:
    """The broker's view of the replicas, or why it could not be had."""
    try:
        return await cluster_view(settings, queue_names), None
    except ManagementUnavailable as exc:
        return None, str(exc)


def _print_table(objects: list[BrokerObject], title: str) -> Console:
    table = Table(title=title)
    for column in COLUMNS:
        numeric = column in ("messages", "consumers")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    for item in objects:
        counts = ("", "") if item.kind == "exchange" else (_count(item.messages), _count(item.consumers))
        name = item.name if item.exists else f"{item.name} (missing)"
        bindings = "\n".join(str(binding) for binding in item.bindings) if item.bindings else item.type
        table.add_row(item.kind, name, item.workspace or "", bindings, *counts, item.replicas or "")
    console = Console()
    # a terminal narrower than the table gets longer lines rather than cut names
    needed = console.measure(table, options=console.options.update_width(UNBOUNDED_WIDTH)).maximum
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)
    return console


def _count(value: int | None) -> str:
    return "" if value is None else str(value)
