"""One workspace's way to Braze: coalesce, pace, send, and settle every message by the outcome.

A :class:`WorkspacePipeline` owns the workspace's coalescer and its :class:`~worker.gate.BrazeGate`
(client, pacer, breaker). Its loop hands sealed batches to sender tasks (at most ``max_batches`` at
once); each sender applies :func:`worker.outcome.decide` to every answer and acts on the value. While
the breaker is open, batches wait at it, holding their messages unacked.

Each batch talks to the state store (:mod:`worker.state`) twice: before its request it claims its users
(those another worker holds go back to the coalescer for a moment), acks copies of submissions already
accepted, and learns what Braze last accepted per attribute (older values, and unchanged ones where the
hub skips them, are held back); after Braze's answer it records what was accepted, before any ack. With a
shared limit, the batch asks for its request's slot together with its claim (:meth:`BrazeGate.ask_ahead`):
both go in one round trip (see :mod:`worker.state.link`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import orjson

from komo_braze.deadletter import ErrorKind
from komo_braze.logs import get_logger
from komo_braze.shutdown import TICK_S
from worker.batch import Batch, IndexMap, Submission
from worker.coalesce import BatchLimits, Coalescer
from worker.gate import BrazeGate
from worker.metrics import WorkerMetrics
from worker.outcome import Accepted, ConfigFault, ObjectError, RateLimited, Retry, Split, decide
from worker.settle import Delivery, Settler
from worker.state import StateStore, UserState, user_token
from worker.state.attributes import BatchState

log = get_logger(__name__)

#: how long submissions whose user another worker holds wait before they are tried again: about one
#: batch's round trip at first, twice as long after each further wait, up to the longest
CLAIM_RETRY_S = 0.02
CLAIM_RETRY_MAX_S = 0.2


class WorkspacePipeline:
    def __init__(
        self,
        gate: BrazeGate,
        settler: Settler,
        metrics: WorkerMetrics,
        *,
        limits: BatchLimits,
        max_batches: int,
        store: StateStore,
        claim_ttl_s: float,
    ) -> None:
        self.workspace = workspace = gate.workspace
        self.gate = gate
        self.settler = settler
        self.metrics = metrics
        self.coalescer: Coalescer[Delivery] = Coalescer(workspace, limits)
        self.pacer = gate.pacer
        self.breaker = gate.breaker
        self.store = store
        self._claimed: set[str] = set()  # users this pipeline holds claims on in the store
        self._renew_interval_s = claim_ttl_s / 3
        self._slots = asyncio.Semaphore(max_batches)
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

    def close(self) -> None:
        """Stop waiting for linger: send whatever is held, then let :meth:`run` return."""
        self._closing = True
        self._wake.set()

    # --- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Hand batches to senders until closed and everything is settled."""
        async with asyncio.TaskGroup() as group:
            loops = [
                group.create_task(self.gate.probe_loop()),
                group.create_task(self.gate.pause_probe_loop()),
                group.create_task(self._renew_claims()),
            ]
            try:
                await self._dispatch(group)
            finally:
                for loop in loops:
                    loop.cancel()

    async def _renew_claims(self) -> None:
        """Keep this pipeline's claims alive while their batches wait or are in flight."""
        while True:
            await asyncio.sleep(self._renew_interval_s)
            if self._claimed:
                await self.store.renew(sorted(self._claimed))

    async def _dispatch(self, group: asyncio.TaskGroup) -> None:
        while True:
            if self._closing and self.coalescer.held == 0 and self._in_flight_count == 0:
                return
            try:
                async with asyncio.timeout(TICK_S):
                    await self._slots.acquire()
            except TimeoutError:
                continue
            batch = self.coalescer.take(time.monotonic(), force=self._closing)
            if batch is None:
                self._slots.release()
                due = self.coalescer.due_in(time.monotonic())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(due if due is not None else TICK_S, TICK_S)):
                        await self._wake.wait()
                continue
            self._in_flight_count += len(batch.submissions)
            group.create_task(self._deliver(batch, group))

    async def _deliver(self, batch: Batch[Delivery], group: asyncio.TaskGroup) -> None:
        release = batch
        waiting_count = 0
        try:
            self.metrics.coalesced.labels(self.workspace).inc(batch.coalesced_count())
            if self.sendable:  # its request's slot in the shared limit, in the claim's round trip
                self.gate.ask_ahead()
            claimed, waiting, state = await self._claim(batch)
            if waiting.units:  # their users stay busy here until they are given back
                parked = set(waiting.submissions)
                release, waiting_count = batch.without(lambda s: s in parked), len(parked)
                group.create_task(self._give_back_later(waiting))
            try:
                await self._send(claimed, 0, state)
            finally:
                if state.claimed:  # not accepted (dead-lettered, stale, shutdown): free the users anyway
                    self._claimed -= state.claimed
                    await self.store.release(sorted(state.claimed))
        finally:
            self._in_flight_count -= len(batch.submissions) - waiting_count
            self.coalescer.release(release, time.monotonic())
            self._slots.release()
            self._wake.set()

    async def _claim(self, batch: Batch[Delivery]) -> tuple[Batch[Delivery], Batch[Delivery], BatchState[Delivery]]:
        """One store round trip: claim the batch's users, learn what was accepted already. Returns the part
        to send, the part whose users another worker holds, and the state to send by."""
        tokens = {unit.user: user_token(unit.user) for unit in batch.units}
        ids = list(dict.fromkeys(s.submission_id for s in batch.submissions))
        claims = await self.store.claim(list(tokens.values()), ids)
        self._claimed |= claims.users
        state: BatchState[Delivery] = BatchState(tokens, claims.seen, set(claims.users), self.store.shared)
        waiting: Batch[Delivery] = Batch(self.workspace, [])
        if len(claims.users) == len(tokens):  # every user claimed (always, in-process): nothing to split
            claimed = batch
        else:
            waiting = batch.without(lambda s: tokens[s.user] in claims.users)
            self.metrics.claims_waited.labels(self.workspace).inc(len(waiting.submissions))
            claimed = batch.without(lambda s: tokens[s.user] not in claims.users)
        accepted = claims.accepted_ids
        if accepted:  # copies of submissions Braze accepted already: acked, never sent again
            copies = [s.handle for s in claimed.submissions if s.submission_id in accepted]
            handed = await self.settler.ack_many(copies)
            self.metrics.duplicates.labels(self.workspace, "accepted").inc(len(handed))
            claimed = claimed.without(lambda s: s.submission_id in accepted)
        return claimed, waiting, state

    async def _give_back_later(self, waiting: Batch[Delivery]) -> None:
        waits = max(s.claim_waits for s in waiting.submissions)
        for submission in waiting.submissions:
            submission.claim_waits += 1
        try:
            # the exponent capped: a user held through a long outage elsewhere waits thousands of times,
            # and 2**1024 is no float
            await asyncio.sleep(min(CLAIM_RETRY_MAX_S, CLAIM_RETRY_S * 2 ** min(waits, 16)))
        finally:
            self._in_flight_count -= len(waiting.submissions)
            self.coalescer.give_back(waiting, time.monotonic())
            self._wake.set()

    def _prune(self, batch: Batch[Delivery]) -> Batch[Delivery]:
        """Drop what can no longer be acked (its channel closed: it is back on the queue)."""
        stale = [s for s in batch.submissions if s.handle.stale]
        for submission in stale:
            submission.handle.mark_settled()  # back on the queue already: nothing left to do here
        if not stale:
            return batch
        return batch.without(lambda s: s.handle.settled)

    async def _send(self, batch: Batch[Delivery], attempts: int, state: BatchState[Delivery]) -> None:
        while True:
            batch = self._prune(batch)
            if not batch.units:
                return
            body, index = batch.body(state.attribute_object)
            if not body.get("attributes") and not body.get("events"):  # all held back: nothing to write
                await self._accept(batch, index, (), attempts, state)
                return
            if not self.breaker.is_closed:
                await self.breaker.wait_closed(TICK_S)
                continue
            data = orjson.dumps(body)
            if len(data) > self.coalescer.limits.max_bytes and len(batch.units) > 1:
                for half in batch.halves():
                    await self._send(half, attempts, state)
                return
            answer = await self.gate.request(data, objects=batch.object_count())
            attempts += 1
            outcome = decide(answer.status, answer.body, failure=answer.failure)
            match outcome:
                case Accepted(errors=errors):
                    self.gate.succeeded(answer)
                    await self._accept(batch, index, errors, attempts, state)
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
                    await self._split(batch, status, reason, attempts, state)
                    return

    async def _split(
        self, batch: Batch[Delivery], status: int, reason: str, attempts: int, state: BatchState[Delivery]
    ) -> None:
        self.metrics.splits.labels(self.workspace).inc()
        if len(batch.units) > 1:
            for half in batch.halves():
                await self._send(half, attempts, state)
            return
        alone = batch.units[0].alone()
        if len(alone) > 1:  # one user's merged submissions: try each on its own, oldest first
            for unit in alone:
                await self._send(Batch(self.workspace, [unit]), attempts, state)
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
        self,
        batch: Batch[Delivery],
        index: IndexMap[Delivery],
        errors: tuple[ObjectError, ...],
        attempts: int,
        state: BatchState[Delivery],
    ) -> None:
        rejected: dict[Submission[Delivery], str] = {}
        for error in errors:
            behind = index.behind(error.input_array, error.index)
            if not behind:
                log.warning("braze_error_unmatched", workspace=self.workspace, input_array=error.input_array)
            for submission in behind:
                rejected.setdefault(submission, f"{error.input_array}[{error.index}]: {error.reason}")
        accepted = []
        for submission in batch.submissions:
            reason = rejected.get(submission)
            if reason is not None:
                await self.settler.dead_letter(
                    submission.handle, ErrorKind.BRAZE_REJECTED, reason, workspace=self.workspace, attempts=attempts
                )
            else:
                accepted.append(submission)
        now = datetime.now(UTC)
        for submission in accepted:  # the latency to Braze's acceptance; the record and the ack follow
            self._latency.observe(max(0.0, (now - submission.received_at).total_seconds()))
        await self._record(batch, accepted, rejected, state)
        await self.settler.ack_many([s.handle for s in accepted])

    async def _record(
        self,
        batch: Batch[Delivery],
        accepted: list[Submission[Delivery]],
        rejected: dict[Submission[Delivery], str],
        state: BatchState[Delivery],
    ) -> None:
        """Tell the store what Braze accepted, before any of it is acked (one round trip), and free the users."""
        seen: dict[str, UserState] = {}
        sent = older = unchanged = 0
        known, tokens, sendables = state.seen, state.tokens, state.sendables
        for unit in batch.units:
            result = sendables.get(unit.user)
            if result is None or (rejected and any(s in rejected for s in unit.submissions)):
                continue
            if result.record:
                token = tokens[unit.user]
                last, record = known.get(token), result.record
                # the user's whole state; most units set every attribute the user had
                seen[token] = {**last, **record} if last and not last.keys() <= record.keys() else record
            sent, older, unchanged = sent + result.sent, older + result.older, unchanged + result.unchanged
        ids = list(dict.fromkeys(s.submission_id for s in accepted))
        users = {state.tokens[user] for user in batch.users}
        await self.store.record(ids, seen, sorted(users & state.claimed))
        self._claimed -= users
        state.claimed -= users
        if len(accepted) > len(ids):
            self.metrics.duplicates.labels(self.workspace, "same_batch").inc(len(accepted) - len(ids))
        self.metrics.attribute_values_sent.labels(self.workspace).inc(sent)
        if older:
            self.metrics.attributes_held_back.labels(self.workspace, "older").inc(older)
        if unchanged:
            self.metrics.attributes_held_back.labels(self.workspace, "unchanged").inc(unchanged)
