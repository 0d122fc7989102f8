"""The per-workspace circuit breaker (docs/architecture.md, "The worker's outcome policy").

``closed``: requests flow. After ``failure_threshold`` consecutive failures (5xx, timeouts, connection
errors) it ``open``\\ s: batches stop at :meth:`wait_closed`, the worker holds their messages, and the
prober (``worker.gate``) sends a harmless request after each :meth:`probe_delay_s` (exponential backoff
with full jitter). While a probe is out the state is ``half_open``; the first success closes it. A 401, 403 or
404 opens it at once as a *configuration fault*: nothing is dead-lettered, it closes again once a probe
gets through (a key fixed or restored).
"""

from __future__ import annotations

import asyncio
import random
from enum import IntEnum


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


def full_jitter_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    return random.uniform(0, min(cap_s, base_s * 2 ** min(attempt, 30)))


class Breaker:
    def __init__(self, *, failure_threshold: int = 5, base_s: float = 0.5, cap_s: float = 30.0) -> None:
        self.failure_threshold = failure_threshold
        self.base_s = base_s
        self.cap_s = cap_s
        self.state = BreakerState.CLOSED
        self.config_fault: int | None = None  # the status code of a configuration fault, while open
        self.consecutive_failures = 0
        self.probes = 0
        self._closed = asyncio.Event()
        self._closed.set()
        self._opened = asyncio.Event()

    @property
    def is_closed(self) -> bool:
        return self.state is BreakerState.CLOSED

    def success(self) -> None:
        self.consecutive_failures = 0
        self.probes = 0
        self.config_fault = None
        self.state = BreakerState.CLOSED
        self._opened.clear()
        self._closed.set()

    def failure(self) -> bool:
        """Count a retryable failure; returns True when this one opened the breaker."""
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN
            return False
        if self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold:
            self._open()
            return True
        return False

    def fault(self, status: int) -> bool:
        """A configuration fault (401/403/404); returns True when this one opened the breaker."""
        self.config_fault = status
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN
            return False
        if self.state is BreakerState.CLOSED:
            self._open()
            return True
        return False

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.probes = 0
        self._closed.clear()
        self._opened.set()

    def begin_probe(self) -> None:
        self.state = BreakerState.HALF_OPEN
        self.probes += 1

    def retry_delay_s(self, attempt: int) -> float:
        return full_jitter_s(attempt, self.base_s, self.cap_s)

    def probe_delay_s(self) -> float:
        return full_jitter_s(self.probes + 1, self.base_s, self.cap_s)

    async def wait_closed(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for requests to be allowed; returns whether they are."""
        if self._closed.is_set():
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self._closed.wait()
        except TimeoutError:
            return False
        return True

    async def wait_opened(self, timeout_s: float) -> bool:
        if self._opened.is_set():
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self._opened.wait()
        except TimeoutError:
            return False
        return True
