"""Pacing by Braze's rate-limit headers, per workspace (docs/architecture.md, "Coalescing and pacing").

Braze's headers are the only view several worker processes share of one workspace's limit, so every
process spends the *remaining* budget evenly over the *rest* of the window: the next request may go
``time_left / budget`` after the previous one. One process alone spreads the budget evenly; N processes
each do the same, the remaining count falls N times faster, and each slows down in step (remaining
decays like ``time_left ** N``), so together they reach zero only as the window resets: 429s stay rare
instead of routine. The budget leaves out requests sent but not yet answered (not in the headers yet)
and a small reserve (3% of the limit, at least 2) for other processes' requests we cannot see yet.
A 429 pauses every request to the workspace until ``Retry-After`` or the reset, plus jitter so that
processes do not all come back at the same instant, and for at least a second. Headers arrive read
and bounded (:mod:`worker.ratelimit_headers`): no pause is longer than the cap they were read with. A
long pause is checked by a probe (``worker.gate``); what the probe's answer says replaces it
(:meth:`Pacer.resume`, :meth:`Pacer.pause_for_429` with ``replace``).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable

from worker.ratelimit_headers import RateLimitHeaders

#: the longest pause a single request waits in one go, so a stopping worker notices within a second
_SLEEP_SLICE_S = 1.0
#: a Reset further away than this is treated as bogus (clock skew, or an hourly contract) for spacing
_MAX_WINDOW_S = 3600.0
#: how often a request waiting for the very first answer looks again
_COLD_POLL_S = 0.01
#: the share of a window's limit left unspent for other processes' requests we cannot see yet
_RESERVE_SHARE = 0.03
#: the shortest pause after a 429, whatever it says (``Retry-After: 0`` or ``-5``): no hot loop
MIN_429_PAUSE_S = 1.0


class Pacer:
    """When the next request to one workspace may start."""

    def __init__(
        self,
        *,
        static_limit: tuple[int, float] | None = None,
        clock: Callable[[], float] = time.time,
        jitter_s: float = 0.25,
    ) -> None:
        self._clock = clock
        self._jitter_s = jitter_s
        self._static_interval_s = static_limit[1] / static_limit[0] if static_limit else 0.0
        self._lock = asyncio.Lock()
        self._next_at = 0.0
        self._paused_until = 0.0
        self.in_flight = 0
        self._cold = True  # no answer yet
        self._refused = False  # the latest answer was a 429
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_epoch_s: float | None = None
        #: False while the workspace's limit shared in Redis spaces the requests: the headers then only pause
        self.spread_by_headers = True

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def interval_s(self, now: float) -> float:
        """The spacing the headers ask for right now (0 when there is budget to spare)."""
        interval = self._static_interval_s
        if self.spread_by_headers and self.remaining is not None and self.reset_epoch_s is not None:
            time_left = self.reset_epoch_s - now
            if 0 < time_left <= _MAX_WINDOW_S:
                budget = self.remaining - self.in_flight - self._reserve()
                interval = max(interval, time_left / budget if budget > 0 else time_left)
        return interval

    def _window_unknown(self, now: float) -> bool:
        """No answer yet, the latest answer was a 429 (after its pause, one request finds out whether it
        still holds, not every batch waiting at once), or the window we know has reset and no answer of
        the new one has come."""
        return self._cold or self._refused or (self.reset_epoch_s is not None and now >= self.reset_epoch_s)

    def _reserve(self) -> int:
        return max(2, math.ceil((self.limit or 0) * _RESERVE_SHARE))

    async def acquire(self) -> None:
        """Wait for this request's turn; the caller then sends and calls :meth:`observe`."""
        async with self._lock:
            while True:
                now = self._clock()
                start_at = max(self._next_at, self._paused_until)
                if self.spread_by_headers and self._window_unknown(now) and self.in_flight > 0:
                    # a burst could overrun the window: one at a time (a shared limit sends no burst)
                    start_at = max(start_at, now + _COLD_POLL_S)
                if start_at <= now:
                    break
                await asyncio.sleep(min(start_at - now, _SLEEP_SLICE_S))
            self._next_at = now + self.interval_s(now)
            self.in_flight += 1

    def done(self) -> None:
        """The request was answered (or failed); call exactly once per :meth:`acquire`."""
        self.in_flight = max(0, self.in_flight - 1)

    def observe(self, headers: RateLimitHeaders) -> None:
        """Take in the rate-limit headers of an answer (any status)."""
        self._cold = self._refused = False
        if headers.remaining is None:
            return
        if (
            headers.reset_epoch_s is not None
            and self.reset_epoch_s is not None
            and headers.reset_epoch_s < self.reset_epoch_s
            and headers.reset_epoch_s <= self._clock()
        ):
            # a late answer from a window that has already reset: nothing to learn from it (a Reset still
            # ahead is news even when it is earlier than ours: ours was wrong, and must not stick)
            return
        new_window = headers.reset_epoch_s is not None and headers.reset_epoch_s != self.reset_epoch_s
        if new_window or self.remaining is None:
            self.reset_epoch_s = headers.reset_epoch_s
            self.remaining = headers.remaining
        else:  # answers of one window arrive out of order: the lowest count is the latest
            self.remaining = min(self.remaining, headers.remaining)
        self.limit = headers.limit if headers.limit is not None else self.limit
        if self.remaining <= 0 and self.reset_epoch_s is not None:
            self._pause_until(self.reset_epoch_s)

    def pause_for_429(self, headers: RateLimitHeaders, *, replace: bool = False) -> float:
        """Pause every request to the workspace after a 429; returns the seconds paused from now.
        ``replace``: this answer's pause replaces the one running (a probe's answer), else extends it."""
        now = self._clock()
        if headers.retry_after_s is not None:
            until = now + headers.retry_after_s
        elif headers.reset_epoch_s is not None and headers.reset_epoch_s > now:  # bounded when read
            until = headers.reset_epoch_s
        else:
            until = now
        if replace:
            self._paused_until = 0.0
        self._refused = True
        self._pause_until(max(until, now + MIN_429_PAUSE_S))
        return max(0.0, self._paused_until - now)

    def blocked_for_s(self) -> float:
        """How long the next request would wait from now (a pause, or the spacing)."""
        return max(0.0, self._next_at - self._clock(), self._paused_until - self._clock())

    def resume(self, headers: RateLimitHeaders) -> None:
        """A probe got through during a pause: forget the pause, the spacing and the window, and take
        the probe's headers instead."""
        self._paused_until = 0.0
        self._next_at = 0.0
        self.remaining = self.reset_epoch_s = None
        self.observe(headers)

    def _pause_until(self, until: float) -> None:
        until += random.uniform(0, self._jitter_s)
        self._paused_until = max(self._paused_until, until)
