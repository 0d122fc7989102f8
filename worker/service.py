"""``serve``: the worker process, from start-up to an orderly shutdown.

Start: connect (robust), declare the topology, open one Braze client and pipeline per workspace, one
consumer per work queue, and ``/healthz`` ``/readyz`` ``/metrics``. Shutdown (the ``shutdown`` event):
stop consuming, send what is held, wait for in-flight requests up to ``shutdown_grace_s``, then close
channels (the broker requeues whatever is unacked) and the connection, in reverse order of opening.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping
from contextlib import AsyncExitStack

from aiohttp import web

from komo_braze import amqp, topology
from komo_braze.confirm_channel import ConfirmChannel
from komo_braze.http import add_health_routes, start_site
from komo_braze.logs import get_logger
from komo_braze.settings import BatchMode, Settings, parse_rate
from worker.braze_client import BrazeClient
from worker.breaker import Breaker
from worker.coalesce import MAX_OBJECTS, BatchLimits
from worker.consumer import QueueConsumer
from worker.gate import BrazeGate
from worker.metrics import WorkerMetrics
from worker.pacer import Pacer
from worker.pipeline import WorkspacePipeline
from worker.router import Router
from worker.settle import Settler
from worker.state import StateStore
from worker.state.failover import FailoverStore
from worker.state.limiter import BRAZE_DEFAULT_RATE, SharedLimiter
from worker.state.link import RedisLink
from worker.state.memory import MemoryStore
from worker.state.redis import RedisStore
from worker.workspaces import WorkerMapping, resolve_targets, select_workspaces

log = get_logger(__name__)


def _resume_check(pipelines: Mapping[str, WorkspacePipeline], workspace: str) -> Callable[[], bool]:
    """When a consumer that handed its messages back may consume again: once its own workspace can send
    (another workspace's revoked key must not hold this queue back)."""
    own = pipelines.get(workspace)
    if own is not None:
        return lambda: own.sendable
    return lambda: all(p.sendable for p in pipelines.values())


def batch_slots(settings: Settings) -> int:
    """Batches a pipeline works on at once. With a shared store each batch also waits for two store round
    trips; twice the requests in flight keeps those waits off Braze's connections (the client still
    sends at most ``braze_max_in_flight`` at once). Measured: see ``python -m bench state``."""
    return settings.braze_max_in_flight * (2 if settings.state_url is not None else 1)


def prefetch_for(settings: Settings) -> int:
    """Enough for every batch under way plus the batch being filled, at one message per object."""
    per_batch = MAX_OBJECTS * (2 if settings.batch_mode is BatchMode.PER_ARRAY else 1)
    return per_batch * (batch_slots(settings) + 2)


def open_store(settings: Settings, metrics: WorkerMetrics, link: RedisLink | None = None) -> StateStore:
    """The in-process store, or Redis (``KOMO_BRAZE_STATE_URL``) falling back to it while Redis is down;
    ``link``: the worker's connection to that Redis (else the store opens one of its own)."""
    memory = MemoryStore(
        accepted_retention_s=settings.state_accepted_retention_s,
        user_retention_s=settings.state_user_retention_s,
        claim_ttl_s=settings.state_claim_ttl_s,
    )
    metrics.state_store_configured.set(int(settings.state_url is not None))
    if settings.state_url is None:
        metrics.state_store_up.set(0)
        return memory
    redis = RedisStore(
        settings.state_url.get_secret_value(),
        settings.prefix,
        accepted_retention_s=settings.state_accepted_retention_s,
        user_retention_s=settings.state_user_retention_s,
        claim_ttl_s=settings.state_claim_ttl_s,
        timeout_s=settings.state_timeout_s,
        link=link,
    )
    return FailoverStore(
        redis, memory, timeout_s=settings.state_timeout_s, on_change=lambda up: metrics.state_store_up.set(int(up))
    )


async def serve(
    settings: Settings,
    mapping: WorkerMapping,
    shutdown: asyncio.Event,
    *,
    environ: Mapping[str, str] | None = None,
    metrics: WorkerMetrics | None = None,
    on_listening: Callable[[int], None] | None = None,
    workspaces: Collection[str] = (),
) -> None:
    """Run a worker until ``shutdown`` is set, then shut down in order (see the module docstring).

    ``workspaces``: consume only these workspaces' queues (``komo-braze worker --workspace``); none: all.
    """
    selection = select_workspaces(mapping, workspaces)
    targets = resolve_targets(settings, mapping, environ or {}, selection.deliver_to)
    if settings.braze_single_endpoint:
        redirected = sorted({t.workspace for t in targets} - {topology.DEFAULT_WORKSPACE})
        log.warning("single_braze_endpoint", endpoint=str(settings.braze_url), workspaces=redirected)
    metrics = metrics or WorkerMetrics()
    metrics.initialise((target.workspace for target in targets), attributes=mapping.attribute_names)
    limits = BatchLimits(
        per_array=settings.batch_mode is BatchMode.PER_ARRAY,
        max_bytes=settings.batch_max_bytes,
        linger_s=settings.batch_linger_ms / 1000,
    )
    static_limit = parse_rate(settings.braze_static_rate_limit) if settings.braze_static_rate_limit else None
    async with AsyncExitStack() as stack:
        # one connection to Redis for the store and the shared limits: what they ask together goes together
        link = None
        if settings.state_url is not None:
            link = RedisLink(settings.state_url.get_secret_value(), timeout_s=settings.state_timeout_s)
            stack.push_async_callback(link.close)
        connection = await amqp.connect(settings, "worker")
        stack.push_async_callback(connection.close)
        setup_channel = await connection.channel(publisher_confirms=True)
        topo = await topology.declare(
            setup_channel,
            settings.prefix,
            delivery_limit=settings.delivery_limit,
            replicas=settings.quorum_replicas,
            workspace_hubs=mapping.workspace_hubs(),
        )
        # a channel of its own, apart from the setup channel whose declarations the robust connection restores
        dead_letters = await ConfirmChannel.open(
            connection,
            topo.names.dead_exchange,
            name="worker-dead-letters",
            timeout_s=settings.publish_timeout_s,
            renew_interval_s=settings.reconnect_interval_s,
            on_renewed=metrics.dead_letter_channel_renewals.inc,
        )
        stack.callback(dead_letters.stop)
        settler = Settler(dead_letters, settings.publish_timeout_s, metrics)
        store = open_store(settings, metrics, link)
        stack.push_async_callback(store.close)
        if isinstance(store, FailoverStore):
            await store.start()
            watcher = asyncio.create_task(store.watch())
            stack.push_async_callback(_cancel, watcher)
        pipelines: dict[str, WorkspacePipeline] = {}
        for target in targets:
            client = await stack.enter_async_context(
                BrazeClient(
                    target.url,
                    target.api_key,
                    max_in_flight=settings.braze_max_in_flight,
                    timeout_s=settings.braze_timeout_s,
                    max_pause_s=settings.braze_max_pause_s,
                )
            )
            breaker = Breaker(
                failure_threshold=settings.braze_breaker_failures,
                base_s=settings.braze_retry_base_s,
                cap_s=settings.braze_retry_max_s,
            )
            shared_limit = None
            if link is not None:
                limit, window_s = static_limit or BRAZE_DEFAULT_RATE
                shared_limit = SharedLimiter(
                    link,
                    f"{settings.prefix}:limit:{target.workspace}",
                    workspace=target.workspace,
                    metrics=metrics,
                    limit=limit,
                    window_s=window_s,
                )
            gate = BrazeGate(
                target.workspace,
                client,
                Pacer(static_limit=static_limit),
                breaker,
                metrics,
                shared_limit,
                pause_probe_s=settings.braze_pause_probe_s,
            )
            pipelines[target.workspace] = WorkspacePipeline(
                gate,
                settler,
                metrics,
                limits=limits,
                max_batches=batch_slots(settings),
                store=store,
                claim_ttl_s=settings.state_claim_ttl_s,
            )
        router = Router(mapping, pipelines, settler, metrics)

        def discard_stale() -> None:
            for pipeline in pipelines.values():
                pipeline.discard_stale()

        consumers = [
            QueueConsumer(
                connection,
                queue.name,
                workspace,
                prefetch=prefetch_for(settings),
                hold_limit_s=settings.hold_limit_s,
                on_delivery=router.route,
                can_resume=_resume_check(pipelines, workspace),
                on_returned=discard_stale,
                metrics=metrics,
            )
            for workspace, queue in topo.work_queues.items()
            if workspace in selection.queues
        ]

        def ready() -> bool:
            return not connection.is_closed and all(c.ready for c in consumers)

        metrics.watch_ready(ready)
        app = web.Application()
        add_health_routes(app, ready, metrics.registry)
        bind = settings.worker_metrics_bind
        runner, port = await start_site(app, bind.host, port=bind.port)
        stack.push_async_callback(runner.cleanup)
        log.info("listening", port=port, host=bind.host)  # devtools.components reads the port from this
        log.info(
            "worker_started",
            queues=list(selection.queues),
            workspaces=sorted(pipelines),
            prefix=settings.prefix,
            state_store="shared" if store.shared else "per_process",
        )
        if on_listening is not None:
            on_listening(port)
        await _run(settings, shutdown, consumers, pipelines, router)
    log.info("worker_stopped")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _run(
    settings: Settings,
    shutdown: asyncio.Event,
    consumers: list[QueueConsumer],
    pipelines: Mapping[str, WorkspacePipeline],
    router: Router,
) -> None:
    stop_consuming = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as group:
            consumer_tasks = [group.create_task(c.run(stop_consuming)) for c in consumers]
            pipeline_tasks = [group.create_task(p.run()) for p in pipelines.values()]
            await shutdown.wait()
            log.info("worker_stopping", grace_s=settings.shutdown_grace_s)
            # 1. stop taking work
            stop_consuming.set()
            await asyncio.wait(consumer_tasks, timeout=10)
            for consumer in consumers:
                await consumer.stop_consuming()
            # 2. send what is held and finish in-flight requests, within the grace period
            for pipeline in pipelines.values():
                pipeline.close()
            _done, pending = await asyncio.wait(pipeline_tasks, timeout=settings.shutdown_grace_s)
            await router.drain(timeout_s=max(1.0, settings.publish_timeout_s))
            if pending:
                held = sum(p.coalescer.held for p in pipelines.values())
                log.warning("shutdown_grace_expired", unsent_batches=len(pending), held_messages=held)
                for task in pending:
                    task.cancel()
            for consumer in consumers:
                await consumer.flush_acks()
    finally:
        # 3. close the channels (after the last acks): the broker requeues whatever is still unacked
        for consumer in consumers:
            with contextlib.suppress(Exception):
                await consumer.close()
