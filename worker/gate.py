"""Talking to one workspace's Braze: paced requests, the breaker, and the prober that closes it.

Every request goes through :meth:`BrazeGate.request` (pacer, client, request metrics); the pipeline
tells the gate what the outcome was (:meth:`succeeded`, :meth:`failed`, :meth:`rate_limited`,
:meth:`config_fault`) and the gate keeps breaker and pacer state, logs and metrics in step. While the
breaker is open, :meth:`probe_loop` sends a harmless request (no objects) after each backoff step; any
answer about the request itself (a 2xx or a 400) shows that Braze is there and takes the key, and
closes the breaker. While the pacer holds requests back for longer than ``pause_probe_s`` (a Reset
far ahead, a long ``Retry-After``), :meth:`pause_probe_loop` sends the same harmless request past the
pacer once per ``pause_probe_s``: an answer that takes the request ends the pause (its headers are
the truth from then on, and with a shared limit the schedule in Redis is dropped too), a 429 replaces
it with its own, so a workspace resumes by itself within ``pause_probe_s`` of Braze answering sanely
(``docs/decisions.md``, "Hostile answers").
"""

from __future__ import annotations

import asyncio

from komo_braze.logs import get_logger
from komo_braze.shutdown import TICK_S
from worker.braze_client import PROBE_BODY, BrazeAnswer, BrazeClient
from worker.breaker import Breaker
from worker.metrics import WorkerMetrics
from worker.outcome import ConfigFault, RateLimited, Retry, decide
from worker.pacer import Pacer
from worker.state.limiter import SharedLimiter

log = get_logger(__name__)

#: a pause (or spacing) longer than this is checked by a probe this often
PAUSE_PROBE_S = 60.0


class BrazeGate:
    def __init__(
        self,
        workspace: str,
        client: BrazeClient,
        pacer: Pacer,
        breaker: Breaker,
        metrics: WorkerMetrics,
        shared_limit: SharedLimiter | None = None,
        *,
        pause_probe_s: float = PAUSE_PROBE_S,
    ) -> None:
        self.workspace = workspace
        self.client = client
        self.pacer = pacer
        self.shared_limit = shared_limit
        self.breaker = breaker
        self.metrics = metrics
        self.pause_probe_s = pause_probe_s
        metrics.breaker_state.labels(workspace).set(breaker.state)

    def ask_ahead(self) -> None:
        """With a shared limit, ask for the next request's slot now: it rides with the store call that goes
        next (a batch's claim), one round trip fewer per batch."""
        if self.shared_limit is not None:
            self.shared_limit.ask_ahead()

    async def request(self, data: bytes, *, objects: int) -> BrazeAnswer:
        """Wait for the pacer, send, and record the answer's rate-limit headers and metrics."""
        answer = await self._send(data)
        self.metrics.batch_objects.labels(self.workspace).observe(objects)
        self.metrics.requests.labels(self.workspace, answer.status_label).inc()
        self.metrics.request_duration.labels(self.workspace).observe(answer.duration_s)
        log.debug("request", workspace=self.workspace, objects=objects, **answer.log_fields())
        return answer

    async def _probe(self) -> BrazeAnswer:
        """A request with no object, counted apart from real requests (``probes_total``)."""
        answer = await self._send(PROBE_BODY)
        self.metrics.probes.labels(self.workspace, answer.status_label).inc()
        log.debug("probe", workspace=self.workspace, **answer.log_fields())
        return answer

    async def _send(self, data: bytes) -> BrazeAnswer:
        """Wait for the pacer and the shared limit, send, and take in the answer's rate-limit headers.
        With a shared limit the pacer only pauses; while Redis does not answer, it spaces too."""
        await self.pacer.acquire()
        grant = None
        try:
            if self.shared_limit is not None:
                grant = await self.shared_limit.reserve()
                self.pacer.spread_by_headers = not self.shared_limit.shared
            answer = await self.client.track(data)
        finally:
            self.pacer.done()
        self.pacer.observe(answer.rate_limit)
        if self.shared_limit is not None:
            await self.shared_limit.learn(grant, answer.rate_limit, refused=answer.status == 429)
        self._record(answer)
        return answer

    def _record(self, answer: BrazeAnswer) -> None:
        """The rate-limit gauges after an answer, and the header values that could not be used."""
        for header in answer.rate_limit.unusable:
            self.metrics.rate_limit_header_unusable.labels(self.workspace, header).inc()
        if self.pacer.remaining is not None:
            self.metrics.rate_limit_remaining.labels(self.workspace).set(self.pacer.remaining)
        if self.pacer.limit is not None:
            self.metrics.rate_limit_limit.labels(self.workspace).set(self.pacer.limit)

    def succeeded(self, answer: BrazeAnswer) -> None:
        was_closed = self.breaker.is_closed
        self.breaker.success()
        if not was_closed:
            log.info("breaker_closed", workspace=self.workspace, **answer.log_fields())
        self.metrics.breaker_state.labels(self.workspace).set(self.breaker.state)

    def failed(self, reason: str) -> None:
        """A 5xx, timeout or connection error."""
        opened = self.breaker.failure()
        self.metrics.breaker_state.labels(self.workspace).set(self.breaker.state)
        if opened:
            log.error(
                "breaker_opened",
                workspace=self.workspace,
                reason=reason,
                consecutive_failures=self.breaker.consecutive_failures,
            )

    def rate_limited(self, answer: BrazeAnswer) -> None:
        paused_s = self.pacer.pause_for_429(answer.rate_limit)
        self.metrics.pauses.labels(self.workspace).inc()
        self.metrics.paused_seconds.labels(self.workspace).inc(paused_s)
        log.info("rate_limited", workspace=self.workspace, paused_s=round(paused_s, 3))

    def config_fault(self, status: int, reason: str) -> None:
        self.metrics.config_faults.labels(self.workspace, str(status)).inc()
        opened = self.breaker.fault(status)
        self.metrics.breaker_state.labels(self.workspace).set(self.breaker.state)
        if opened:
            log.critical(
                "braze_configuration_fault",
                workspace=self.workspace,
                status=status,
                detail=reason[:200],
                hint="check this workspace's REST endpoint and API key (users.track permission); "
                "nothing is dead-lettered, delivery resumes once a probe succeeds",
            )

    async def probe_loop(self) -> None:
        """Probe while the breaker is open (runs for the pipeline's lifetime)."""
        while True:
            if not await self.breaker.wait_opened(TICK_S * 2):
                continue
            await asyncio.sleep(self.breaker.probe_delay_s())
            if self.breaker.is_closed:
                continue
            self.breaker.begin_probe()
            self.metrics.breaker_state.labels(self.workspace).set(self.breaker.state)
            answer = await self._probe()
            match decide(answer.status, answer.body, failure=answer.failure):
                case Retry(reason=reason):
                    self.failed(reason)
                case ConfigFault(status=status, reason=reason):
                    self.config_fault(status, reason)
                case RateLimited():
                    self.pacer.pause_for_429(answer.rate_limit)
                    self.succeeded(answer)
                case _:  # an answer about the (empty) request itself: Braze is there and takes our key
                    self.succeeded(answer)

    async def pause_probe_loop(self) -> None:
        """Probe long pauses (runs for the pipeline's lifetime)."""
        while True:
            await asyncio.sleep(self.pause_probe_s)
            if self._blocked_for_s() <= self.pause_probe_s:
                continue  # it ends before the next look by itself
            self.metrics.pause_probes.labels(self.workspace).inc()
            answer = await self.client.track(PROBE_BODY)
            self._record(answer)
            outcome = decide(answer.status, answer.body, failure=answer.failure)
            log.info("pause_probed", workspace=self.workspace, **answer.log_fields())
            match outcome:
                case Retry(reason=reason):
                    self.failed(reason)
                case ConfigFault(status=status, reason=reason):
                    self.config_fault(status, reason)
                case RateLimited():
                    paused_s = self.pacer.pause_for_429(answer.rate_limit, replace=True)
                    log.info("rate_limited", workspace=self.workspace, paused_s=round(paused_s, 3))
                case _:  # Braze took the (empty) request: the pause no longer holds
                    self.pacer.resume(answer.rate_limit)
                    if self.shared_limit is not None:
                        await self.shared_limit.resume()
                    self.succeeded(answer)

    def _blocked_for_s(self) -> float:
        """How long requests are held back: by this process's pacer, or by the shared schedule."""
        shared = self.shared_limit.blocked_for_s() if self.shared_limit is not None else 0.0
        return max(self.pacer.blocked_for_s(), shared)
