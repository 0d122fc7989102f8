"""Running the worker in a test: publish Komo bodies, run ``serve`` in-process, wait for outcomes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika

from devtools.components import Component, component_env, start_component
from komo_braze.deadletter import DeadLetter
from komo_braze.envelope import Envelope, format_time
from tests.broker import BrokerKit
from worker.metrics import WorkerMetrics
from worker.service import serve
from worker.workspaces import WorkerMapping

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


#: the mapping of worker processes: an external_id (else an email alias), and one event per submission
_PROCESS_MAPPING = """\
hubs:
  "*":
    identify:
      - {by: external_id, field: customer_id}
      - {by: alias, field: email, label: email}
    update_existing_only: false
    skip_unchanged: %(skip_unchanged)s
    attributes:
      first_name: first_name
      email: {to: email, type: email}
      favourite_team: favourite_team
    event:
      name: komo_form_submitted
      properties: [site_id, submission_id]
"""


def process_mapping(*, skip_unchanged: bool = False) -> str:
    """The mapping of worker processes, optionally skipping attribute values Braze already holds."""
    return _PROCESS_MAPPING % {"skip_unchanged": str(skip_unchanged).lower()}


PROCESS_MAPPING = process_mapping()


async def start_worker_process(
    kit: BrokerKit, braze_url: str, tmp_path: Path, name: str, *, mapping_text: str = PROCESS_MAPPING, **settings: str
) -> Component:
    """``komo-braze worker`` as a process on ``kit``'s prefix, sending to ``braze_url`` with ``mapping_text``
    (:data:`PROCESS_MAPPING`); ``settings`` (``KOMO_BRAZE_*`` names in lower case) override the defaults."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_text)
    env = component_env(
        amqp_url=kit.amqp_url,
        prefix=kit.prefix,
        braze_url=braze_url,
        braze_api_key="test-key",
        mapping=str(mapping),
        worker_metrics_bind="127.0.0.1:0",
        batch_linger_ms="20",
        shutdown_grace_s="20",
        **settings,
    )
    return await start_component(name, ["worker"], env, tmp_path)


def body(
    customer: str | None, *, n: int = 0, hub: str = "hub-1", submission_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A Komo-like body; ``n`` orders the Komo timestamps."""
    sid = submission_id or str(uuid.uuid4())
    result: dict[str, Any] = {
        "id": sid,
        "submission_id": sid,
        "event": "CompetitionEntrySuccess",
        "timestamp": format_time(T0 + timedelta(seconds=n)),
        "site_id": hub,
    }
    if customer is not None:
        result["customer_id"] = customer
    result.update(fields)
    return result


async def publish(kit: BrokerKit, bodies: Iterable[dict[str, Any]], *, raw: Iterable[bytes] = ()) -> int:
    """Publish envelopes (with confirms) as the producer would; ``raw`` bodies go as they are."""
    count = 0
    async with kit.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(kit.names.exchange)
        for item in bodies:
            envelope = Envelope.from_komo(item)
            message = aio_pika.Message(
                envelope.encode(),
                message_id=envelope.submission_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await exchange.publish(message, routing_key=envelope.routing_key, mandatory=True)
            count += 1
        for data in raw:
            await exchange.publish(aio_pika.Message(data), routing_key="hub.raw", mandatory=True)
            count += 1
    return count


def acked(worker: RunningWorker, n: int, workspace: str = "default") -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return worker.value("messages_acked_total", workspace=workspace) >= n

    return check


async def dead_letters(kit: BrokerKit) -> list[DeadLetter]:
    return [DeadLetter.from_message(m) for m in await kit.drain(kit.names.dead_queue)]


@dataclass
class RunningWorker:
    metrics: WorkerMetrics
    port: int
    task: asyncio.Task[None]
    shutdown: asyncio.Event

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, **labels)

    async def stop(self, timeout_s: float = 30.0) -> None:
        self.shutdown.set()
        await asyncio.wait_for(self.task, timeout_s)


@asynccontextmanager
async def running_worker(
    kit: BrokerKit,
    mapper: WorkerMapping,
    *,
    braze_url: str | None,
    api_key: str | None = "test-key",
    environ: Mapping[str, str] | None = None,
    workspaces: Collection[str] = (),
    **overrides: Any,
) -> AsyncIterator[RunningWorker]:
    options: dict[str, Any] = {
        "braze_url": braze_url,
        "braze_api_key": api_key,
        "worker_metrics_bind": "127.0.0.1:0",
        "batch_linger_ms": 50,
        "braze_retry_base_s": 0.05,
        "braze_retry_max_s": 0.5,
        "shutdown_grace_s": 10.0,
    }
    options.update(overrides)
    settings = kit.settings(**options)
    metrics = WorkerMetrics()
    shutdown = asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(
            settings,
            mapper,
            shutdown,
            environ=environ,
            metrics=metrics,
            on_listening=listening.set_result,
            workspaces=workspaces,
        )
    )
    started: list[asyncio.Future[Any]] = [task, listening]
    done, _ = await asyncio.wait(started, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong at start
    worker = RunningWorker(metrics, listening.result(), task, shutdown)
    try:
        yield worker
    finally:
        if not task.done():
            await worker.stop()
