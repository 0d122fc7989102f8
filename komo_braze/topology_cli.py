"""``komo-braze topology``: declare the broker objects and describe them."""

from __future__ import annotations

import orjson
from rich.console import Console
from rich.table import Table

from komo_braze import topology
from komo_braze.addresses import redact
from komo_braze.amqp import connect
from komo_braze.replicas import ClusterView, ManagementUnavailable, cluster_view, durability_note
from komo_braze.settings import Settings


async def describe(settings: Settings, *, as_json: bool) -> None:
    connection = await connect(settings, "topology")
    async with connection:
        channel = await connection.channel()
        declared = await topology.declare(
            channel, settings.prefix, delivery_limit=settings.delivery_limit, replicas=settings.quorum_replicas
        )
        names = declared.names
        rows: list[dict[str, object]] = [
            {
                "kind": "exchange",
                "name": names.exchange,
                "type": "topic",
                "messages": None,
                "consumers": None,
            },
            {
                "kind": "exchange",
                "name": names.unrouted_exchange,
                "type": "fanout (alternate)",
                "messages": None,
                "consumers": None,
            },
            {
                "kind": "exchange",
                "name": names.dead_exchange,
                "type": "fanout",
                "messages": None,
                "consumers": None,
            },
        ]
        queue_names = [q.name for q in declared.work_queues.values()] + [names.dead_queue]
        for name in queue_names:
            counts = await topology.queue_counts(connection, name)
            messages, consumers = counts if counts else (None, None)
            kind = "dead-letter queue" if name == names.dead_queue else "work queue"
            rows.append({"kind": kind, "name": name, "type": "quorum", "messages": messages, "consumers": consumers})
    view, why_unknown = await _replicas(settings, queue_names)
    for row in rows:
        queue = view.queues.get(str(row["name"])) if view else None
        row["replicas"] = queue.describe() if queue else None
        row["members"] = list(queue.members) if queue else None
    note = durability_note(view)
    if as_json:
        document = {"broker": redact(settings.amqp_urls), "objects": rows, "durability": note}
        print(orjson.dumps({**document, "replicas_unknown": why_unknown}).decode())
        return
    table = Table(title=f"broker objects of prefix {settings.prefix!r} on {redact(settings.amqp_urls)}")
    columns = ("kind", "name", "type", "messages", "consumers", "replicas")
    for column in columns:
        table.add_column(column, justify="right" if column in ("messages", "consumers") else "left")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console = Console()
    console.print(table)
    if why_unknown:
        console.print(f"replicas: {why_unknown}")
    console.print(f"durability: {note}")


async def _replicas(settings: Settings, queue_names: list[str]) -> tuple[ClusterView | None, str | None]:
    """The broker's view of the replicas, or why it could not be had."""
    try:
        return await cluster_view(settings, queue_names), None
    except ManagementUnavailable as exc:
        return None, str(exc)
