"""The ``dlq`` commands that change something: ``replay``, ``purge`` and ``import``.

``replay`` and ``purge`` run :func:`worker.dlq.move.move` under a progress bar and, with
``metrics_bind``, serve ``/metrics`` while they run. ``import`` publishes an export through the shared
bulk publisher (:mod:`komo_braze.bulk`), with confirms, many in flight at once, and accounts for every
line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import BinaryIO

from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aiohttp import web

from komo_braze import topology
from komo_braze.bulk import Item, Outgoing, RetryPolicy, Unusable, numbered_lines, publish_all
from komo_braze.failures import BrokerUnreachable
from komo_braze.http import add_health_routes, start_site
from komo_braze.logs import get_logger
from komo_braze.publishing import ConfirmPublisher
from komo_braze.settings import HostPort, Settings
from worker.dlq.filters import LetterFilter
from worker.dlq.metrics import DlqMetrics
from worker.dlq.move import Action, MoveReport, move
from worker.dlq.pipeline import Destination
from worker.dlq.progress import ProgressView
from worker.dlq.read_commands import opened
from worker.dlq.reader import DeadLetterReader
from worker.dlq.transfer import BadLine, plan_import

log = get_logger(__name__)

#: failed import lines named in the report; the count covers the rest
MAX_NAMED_FAILURES = 20
#: how long ``import`` waits for the broker before giving up
CONNECT_WAIT_S = 30.0
#: times ``replay`` and ``purge`` go on over a new connection after losing theirs
MAX_RESUMES = 5


@asynccontextmanager
async def serving_metrics(
    metrics: DlqMetrics, bind: HostPort | None, linger_s: float, shutdown: asyncio.Event
) -> AsyncIterator[None]:
    """Serve ``/metrics`` (and health) on ``bind`` while the block runs, and ``linger_s`` after it
    (unless ``shutdown`` is set)."""
    if bind is None:
        yield
        return
    app = web.Application()
    add_health_routes(app, lambda: True, metrics.registry)
    runner, port = await start_site(app, bind.host, bind.port)
    log.info("dlq_metrics_serving", host=bind.host, port=port)
    try:
        yield
        if linger_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), timeout=linger_s)
    finally:
        await asyncio.shield(runner.cleanup())


async def move_letters(
    settings: Settings,
    letter_filter: LetterFilter,
    action: Action,
    *,
    shutdown: asyncio.Event,
    metrics: DlqMetrics,
    rate_per_s: float | None = None,
    max_in_flight: int = 2000,
    metrics_bind: HostPort | None = None,
    metrics_linger_s: float = 0.0,
) -> MoveReport:
    """Replay, purge or dry-run the letters ``letter_filter`` selects.

    A run whose broker connection is lost (its node went away) goes on over a new connection, to the
    next node that answers, up to ``MAX_RESUMES`` times: the broker handed the letters it held back, in
    order, and the new run reads them again; what the lost run published without acking its dead copy
    is published again and counted as ``republished``.
    """
    started_at = datetime.now(UTC)
    report: MoveReport | None = None
    async with serving_metrics(metrics, metrics_bind, metrics_linger_s, shutdown):
        for resume in range(MAX_RESUMES + 1):
            still = letter_filter
            if report is not None and letter_filter.limit is not None:
                still = replace(letter_filter, limit=max(letter_filter.limit - report.moved, 0))
            try:
                latest = await _move_once(
                    settings,
                    still,
                    action,
                    shutdown=shutdown,
                    metrics=metrics,
                    rate_per_s=rate_per_s,
                    max_in_flight=max_in_flight,
                    started_at=started_at,
                    in_doubt=frozenset(report.in_doubt if report else ()),
                    acked_unsure=frozenset(report.acked_unsure if report else ()),
                )
            except (BrokerUnreachable, *CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                if report is None:
                    raise  # no node answered at the start: nothing to resume
                report.failure = f"broker connection lost, and no node answered to resume on ({type(exc).__name__})"
            else:
                report = latest.resumed_from(report) if report is not None else latest
            if not report.connection_lost or shutdown.is_set() or resume == MAX_RESUMES:
                break
            log.warning("dlq_move_resuming", after=report.failure, moved=report.moved, resume=resume + 1)
            await asyncio.sleep(settings.reconnect_interval_s)
    assert report is not None
    return report


async def _move_once(
    settings: Settings,
    letter_filter: LetterFilter,
    action: Action,
    *,
    shutdown: asyncio.Event,
    metrics: DlqMetrics,
    rate_per_s: float | None,
    max_in_flight: int,
    started_at: datetime,
    in_doubt: frozenset[str],
    acked_unsure: frozenset[str],
) -> MoveReport:
    async with opened(settings, action.value, declare=action is Action.REPLAY) as (connection, names):
        destination = None
        if action is Action.REPLAY:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            destination = Destination(channel, names.exchange)
        # room for every publish in flight on top of the letters held in place
        min_prefetch = 2 * max_in_flight
        async with DeadLetterReader(connection, names.dead_queue, min_prefetch=min_prefetch) as reader:
            total = reader.depth if letter_filter.limit is None else min(reader.depth, letter_filter.limit)
            verb = {Action.REPLAY: "replaying", Action.PURGE: "purging", Action.DRY_RUN: "reading"}[action]
            with ProgressView(verb, total) as view:
                count_moved = action is not Action.DRY_RUN

                def progress(report: MoveReport) -> None:
                    if not view.enabled:
                        return
                    done = report.moved if (count_moved and letter_filter.limit) else report.scanned
                    status = f"matched {report.matched:,} moved {report.moved:,} left {report.left:,}"
                    view.update(done, status)

                return await move(
                    reader,
                    letter_filter,
                    action,
                    destination=destination,
                    metrics=metrics,
                    shutdown=shutdown,
                    max_in_flight=max_in_flight,
                    rate_per_s=rate_per_s,
                    publish_timeout_s=settings.publish_timeout_s,
                    progress=progress,
                    started_at=started_at,
                    in_doubt=in_doubt,
                    acked_unsure=acked_unsure,
                )


@dataclass
class ImportReport:
    target: str
    published: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    failed: int = 0
    interrupted: bool = False
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "published": self.published,
            "failed": self.failed,
            "failed_lines": [{"line": n, "reason": r} for n, r in self.failures[:MAX_NAMED_FAILURES]],
            "interrupted": self.interrupted,
            "duration_s": round(self.duration_s, 3),
        }


async def import_items(
    stream: BinaryIO, *, to_dlq: bool, replayed_at: datetime, shutdown: asyncio.Event
) -> AsyncIterator[Item]:
    """The items of an export, read in a thread a batch of lines at a time, until ``shutdown``."""
    async for position, line in numbered_lines(stream, shutdown):
        try:
            planned = plan_import(position, line, to_dlq=to_dlq, replayed_at=replayed_at)
        except BadLine as exc:
            yield Unusable(position, str(exc), len(line))
            continue
        yield Outgoing(position, planned.message, planned.routing_key, len(line))


async def import_file(
    settings: Settings,
    stream: BinaryIO,
    *,
    to_dlq: bool,
    shutdown: asyncio.Event,
    metrics: DlqMetrics,
    max_in_flight: int = 2000,
) -> ImportReport:
    """Publish every line of an export with confirms (the shared bulk publisher: many in flight,
    retried across a broker restart); returns which lines failed and why."""
    names = topology.Names(settings.prefix)
    report = ImportReport("dlq" if to_dlq else "work")
    publisher = ConfirmPublisher(
        settings, "dlq import", exchange_name=names.dead_exchange if to_dlq else names.exchange
    )

    def outcome(_item: Item, reason: str | None) -> None:
        if reason is None:
            metrics.imported.labels(target=report.target).inc()
        else:
            metrics.failures.inc()

    publisher.start()
    try:
        await publisher.wait_ready_or_fail(CONNECT_WAIT_S)
        items = import_items(stream, to_dlq=to_dlq, replayed_at=datetime.now(UTC), shutdown=shutdown)
        bulk = await publish_all(
            publisher,
            items,
            max_in_flight=max_in_flight,
            policy=RetryPolicy(ready_wait_s=CONNECT_WAIT_S),
            on_outcome=outcome,
        )
    finally:
        await publisher.close()
    report.published, report.failures, report.failed = bulk.published, bulk.failures, bulk.failed
    report.duration_s, report.interrupted = bulk.duration_s, shutdown.is_set()
    log.info("dlq_import_finished", **{k: v for k, v in report.to_dict().items() if k != "failed_lines"})
    return report
