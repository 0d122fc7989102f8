"""Braze's request limit per workspace: fixed windows aligned on the epoch (``3000/3s`` resets at
every multiple of 3 s), reported on every answer that passed authentication."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from komo_braze.settings import parse_rate


@dataclass(slots=True)
class Verdict:
    """What the limiter says about one request, and the headers that tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch_s: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch_s),
        }


class WindowLimiter:
    """One workspace's limit: ``limit`` requests per ``window_s``, counted in aligned fixed windows."""

    __slots__ = ("_count", "_window_index", "limit", "rejected", "window_s")

    def __init__(self, rate: str) -> None:
        self.limit, self.window_s = parse_rate(rate)
        self._window_index = -1
        self._count = 0
        self.rejected = 0

    def _roll(self, now_s: float) -> int:
        index = int(now_s // self.window_s)
        if index != self._window_index:
            self._window_index = index
            self._count = 0
        # an integer epoch second, never before the real reset (windows under a second round up)
        return math.ceil(round((index + 1) * self.window_s, 3))

    def take(self, now_s: float | None = None) -> Verdict:
        """Count one request; a request over the limit is refused and not counted."""
        reset = self._roll(time.time() if now_s is None else now_s)
        if self._count >= self.limit:
            self.rejected += 1
            return Verdict(False, self.limit, 0, reset)
        self._count += 1
        return Verdict(True, self.limit, self.limit - self._count, reset)

    def peek(self, now_s: float | None = None) -> Verdict:
        """The current state without counting (for answers that bypass the limiter, like a 429 storm)."""
        reset = self._roll(time.time() if now_s is None else now_s)
        return Verdict(self._count < self.limit, self.limit, max(0, self.limit - self._count), reset)
