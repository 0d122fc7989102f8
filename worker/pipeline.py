"""One workspace's way to Braze: coalesce, pace, send, and settle every message by the outcome.

A :class:`WorkspacePipeline` owns the workspace's coalescer and its :class:`~worker.gate.BrazeGate`
(client, pacer, breaker). Its loop hands sealed batches to sender tasks (at most ``max_in_flight`` at
once); each sender applies :func:`worker.outcome.decide` to every answer and acts on the value. While
the breaker is open, batches wait at it, holding their messages unacked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from datetime import UTC, datetime

import orjson

from komo_braze.logs import get_logger
from worker.batch import Batch, IndexMap, Submission
from worker.coalesce import BatchLimits, Coalescer
from worker.deadletter import ErrorKind
from worker.gate import BrazeGate
from worker.metrics import WorkerMetrics
from worker.outcome import Accepted, ConfigFault, ObjectError, RateLimited, Retry, Split, decide
from worker.settle import Delivery, Settler

log = get_logger(__name__)

#: submission ids Braze accepted lately: a redelivered copy is acked without a second send
RECENT_IDS = 100_000
#: how often waiting loops look up (shutdown, breaker), so no wait is without a limit
_TICK_S = 0.5


class RecentIds:
    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def add(self, submission_id: str) -> None:
        self._ids[submission_id] = None
        self._ids.move_to_end(submission_id)
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def __contains__(self, submission_id: object) -> bool:
        return submission_id in self._ids


class WorkspacePipeline:
    def __init__(
        self,
        gate: BrazeGate,
        settler: Settler,
        metrics: WorkerMetrics,
        *,
        limits: BatchLimits,
        max_in_flight: int,
    ) -> None:
        self.workspace = workspace = gate.workspace
        self.gate = gate
        self.settler = settler
        self.metrics = metrics
        self.coalescer: Coalescer[Delivery] = Coalescer(workspace, limits)
        self.pacer = gate.pacer
        self.breaker = gate.breaker
        self.delivered = RecentIds()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._wake = asyncio.Event()
        self._closing = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._in_flight_count = 0
        self._latency = metrics.latency.labels(workspace)
        # counted when scraped, not kept up to date on every message
        metrics.held.labels(workspace).set_function(lambda: self.coalescer.held + self._in_flight_count)

    # --- intake ---------------------------------------------------------------------------------

    def add(self, submission: Submission[Delivery]) -> None:
        """Take a mapped delivery in (synchronously: arrival order is per-user order)."""
        had_open = self.coalescer.has_open
        self.coalescer.add(submission, time.monotonic())
        if self.coalescer.has_ready or not had_open:  # a batch to send, or a linger time to start
            self._wake.set()

    def discard_stale(self) -> int:
        dropped = self.coalescer.discard(lambda s: s.handle.stale)
        for submission in dropped:
            submission.handle.mark_settled()
        return len(dropped)

    @property
    def sendable(self) -> bool:
        return self.breaker.is_closed and self.pacer.paused_until <= time.time()

    @property
    def busy(self) -> bool:
        return self.coalescer.held > 0 or self._in_flight_count > 0

    def close(self) -> None:
        """Stop waiting for linger: send whatever is held, then let :meth:`run` return."""
        self._closing = True
        self._wake.set()

    # --- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Hand batches to senders until closed and everything is settled."""
        async with asyncio.TaskGroup() as group:
            probers = [group.create_task(self.gate.probe_loop()), group.create_task(self.gate.pause_probe_loop())]
            try:
                await self._dispatch(group)
            finally:
                for prober in probers:
                    prober.cancel()

    async def _dispatch(self, group: asyncio.TaskGroup) -> None:
        while True:
            if self._closing and self.coalescer.held == 0 and self._in_flight_count == 0:
                return
            try:
                async with asyncio.timeout(_TICK_S):
                    await self._slots.acquire()
            except TimeoutError:
                continue
            batch = self.coalescer.take(time.monotonic(), force=self._closing)
            if batch is None:
                self._slots.release()
                due = self.coalescer.due_in(time.monotonic())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(due if due is not None else _TICK_S, _TICK_S)):
                        await self._wake.wait()
                continue
            self._in_flight_count += len(batch.submissions)
            group.create_task(self._deliver(batch))

    async def _deliver(self, batch: Batch[Delivery]) -> None:
        count = len(batch.submissions)
        try:
            self.metrics.coalesced.labels(self.workspace).inc(batch.coalesced_count())
            await self._send(batch, attempts=0)
        finally:
            self._in_flight_count -= count
            self.coalescer.release(batch, time.monotonic())
            self._slots.release()
            self._wake.set()

    async def _prune(self, batch: Batch[Delivery]) -> Batch[Delivery]:
        """Drop what can no longer be acked (its channel closed: it is back on the queue) and ack
        redelivered copies of submissions Braze already accepted."""
        submissions = batch.submissions
        duplicates = [s.handle for s in submissions if not s.handle.stale and s.submission_id in self.delivered]
        if duplicates:
            self.metrics.duplicates.labels(self.workspace).inc(len(await self.settler.ack_many(duplicates)))
        for submission in submissions:
            if submission.handle.stale:
                submission.handle.mark_settled()  # back on the queue already: nothing left to do here
        if not any(s.handle.settled for s in submissions):
            return batch
        return batch.without(lambda s: s.handle.settled)

    async def _send(self, batch: Batch[Delivery], attempts: int) -> None:
        while True:
            batch = await self._prune(batch)
            if not batch.units:
                return
            if not self.breaker.is_closed:
                await self.breaker.wait_closed(_TICK_S)
                continue
            body, index = batch.body()
            data = orjson.dumps(body)
            if len(data) > self.coalescer.limits.max_bytes and len(batch.units) > 1:
                for half in batch.halves():
                    await self._send(half, attempts)
                return
            answer = await self.gate.request(data, objects=batch.object_count())
            attempts += 1
            outcome = decide(answer.status, answer.body, failure=answer.failure)
            match outcome:
                case Accepted(errors=errors):
                    self.gate.succeeded(answer)
                    await self._accept(batch, index, errors, attempts)
                    return
                case RateLimited():
                    self.gate.rate_limited(answer)
                case Retry(reason=reason):
                    self.metrics.retries.labels(self.workspace, reason).inc()
                    self.gate.failed(reason)
                    if self.breaker.is_closed:
                        await asyncio.sleep(self.breaker.retry_delay_s(attempts))
                case ConfigFault(status=status, reason=reason):
                    self.gate.config_fault(status, reason)
                case Split(status=status, reason=reason):
                    await self._split(batch, status, reason, attempts)
                    return

    async def _split(self, batch: Batch[Delivery], status: int, reason: str, attempts: int) -> None:
        self.metrics.splits.labels(self.workspace).inc()
        if len(batch.units) > 1:
            for half in batch.halves():
                await self._send(half, attempts)
            return
        alone = batch.units[0].alone()
        if len(alone) > 1:  # one user's merged submissions: try each on its own, oldest first
            for unit in alone:
                await self._send(Batch(self.workspace, [unit]), attempts)
            return
        for submission in batch.submissions:
            await self.settler.dead_letter(
                submission.handle,
                ErrorKind.BRAZE_REJECTED,
                f"HTTP {status}: {reason}",
                workspace=self.workspace,
                attempts=attempts,
            )

    async def _accept(
        self, batch: Batch[Delivery], index: IndexMap[Delivery], errors: tuple[ObjectError, ...], attempts: int
    ) -> None:
        rejected: dict[int, str] = {}
        for error in errors:
            behind = index.behind(error.input_array, error.index)
            if not behind:
                log.warning("braze_error_unmatched", workspace=self.workspace, input_array=error.input_array)
            for submission in behind:
                rejected.setdefault(id(submission), f"{error.input_array}[{error.index}]: {error.reason}")
        accepted = []
        for submission in batch.submissions:
            reason = rejected.get(id(submission))
            if reason is not None:
                await self.settler.dead_letter(
                    submission.handle, ErrorKind.BRAZE_REJECTED, reason, workspace=self.workspace, attempts=attempts
                )
            else:
                self.delivered.add(submission.submission_id)
                accepted.append(submission)
        now = datetime.now(UTC)
        for submission in accepted:  # the latency to Braze's acceptance; the ack follows within 50 ms
            self._latency.observe(max(0.0, (now - submission.received_at).total_seconds()))
        await self.settler.ack_many([s.handle for s in accepted])
