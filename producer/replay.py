"""Signed timestamps: a signed request is accepted only near its own time, and only once.

A sender that signs may also send ``X-Komo-Timestamp: <Unix seconds>``; the signature then covers
``timestamp + "." + body`` (Stripe's scheme), so the time cannot be changed without the secret. The
intake refuses a timestamp more than the tolerance away from its own clock, and remembers each
accepted signature until its timestamp leaves the window, so a captured request cannot be replayed
inside it either. Without the header the body-only signature is still accepted (no replay
protection) unless the settings require timestamps.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping

TIMESTAMP_HEADER = "X-Komo-Timestamp"
#: signatures remembered at most (about 200 bytes each); past it the one closest to leaving the
#: window is forgotten first. 100,000 in a 5-minute window is over 300 signed requests a second.
MAX_REMEMBERED = 100_000


class ReplayRefused(Exception):
    """A signed request outside its time window or seen before; ``reason`` is safe to send back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayGuard:
    """Checks the timestamp of signed requests and remembers the signatures it let through.

    :param tolerance_s: how far a timestamp may be from this server's clock, either way
    :param require_timestamp: refuse a signed request that has no timestamp
    :param clock: Unix seconds (``time.time`` unless a test passes its own)
    :param max_remembered: the bound on remembered signatures
    """

    def __init__(
        self,
        tolerance_s: float,
        *,
        require_timestamp: bool = False,
        clock: Callable[[], float] = time.time,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self._tolerance_s = tolerance_s
        self._require_timestamp = require_timestamp
        self._clock = clock
        self._max_remembered = max_remembered
        self._expiry_by_signature: dict[str, float] = {}
        self._expiries: list[tuple[float, str]] = []  # a heap: the next signature to forget first

    def __len__(self) -> int:
        return len(self._expiry_by_signature)

    def claim(self, headers: Mapping[str, str], signature: str) -> str | None:
        """Let a request whose ``signature`` is already verified through, or raise :class:`ReplayRefused`.

        Returns the key to :meth:`release` if the request is not accepted after all (so that the
        sender's retry of the same signed request is not taken for a replay); ``None`` when the request
        had no timestamp and nothing was remembered.
        """
        stamp_text = headers.get(TIMESTAMP_HEADER)
        if stamp_text is None:
            if self._require_timestamp:
                raise ReplayRefused(f"signed requests must carry {TIMESTAMP_HEADER}")
            return None
        stamp = parse_timestamp(stamp_text)
        now = self._clock()
        if abs(now - stamp) > self._tolerance_s:
            raise ReplayRefused(
                f"{TIMESTAMP_HEADER} is {abs(now - stamp):.0f} s from this server's clock; "
                f"the tolerance is {self._tolerance_s:g} s"
            )
        self._forget_expired(now)
        key = signature.strip().lower()
        if key in self._expiry_by_signature:
            raise ReplayRefused("this signed request was already received (a replay)")
        while len(self._expiry_by_signature) >= self._max_remembered:
            self._forget_first()
        expiry = stamp + self._tolerance_s
        self._expiry_by_signature[key] = expiry
        heapq.heappush(self._expiries, (expiry, key))
        return key

    def release(self, key: str | None) -> None:
        """Forget a claimed signature: its request was not accepted, so the same request may come again."""
        if key is None or self._expiry_by_signature.pop(key, None) is None:
            return
        if len(self._expiries) > 2 * self._max_remembered:  # entries of released keys: rebuild without them
            self._expiries = [(expiry, key) for key, expiry in self._expiry_by_signature.items()]
            heapq.heapify(self._expiries)

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            self._forget_first()

    def _forget_first(self) -> None:
        expiry, key = heapq.heappop(self._expiries)
        if self._expiry_by_signature.get(key) == expiry:
            del self._expiry_by_signature[key]


def parse_timestamp(text: str) -> float:
    """Whole Unix seconds, as sent; raises :class:`ReplayRefused` for anything else."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ReplayRefused(f"{TIMESTAMP_HEADER} must be whole Unix seconds")
    return float(text)
