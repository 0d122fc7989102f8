"""Reading Braze's rate-limit headers without trusting them (``docs/decisions.md``, "Hostile answers").

``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch seconds) and
``Retry-After`` (seconds, or an HTTP date) come from whatever answered: Braze, or a proxy in front of
it. Reading them never raises. A value that is no finite number, or makes no sense (a limit below 1, a
Reset at or before the epoch), is ignored; one out of bounds is clamped (a negative count or wait to 0, a
wait beyond ``max_ahead_s`` to it); a Reset given in milliseconds is read as such. A Reset just past is
kept (a late answer of a window that has reset; the pacer knows it for one). Every header whose value
was not used as it came is named in :attr:`RateLimitHeaders.unusable`, for the metric.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

LIMIT = "X-RateLimit-Limit"
REMAINING = "X-RateLimit-Remaining"
RESET = "X-RateLimit-Reset"
RETRY_AFTER = "Retry-After"
#: the headers read: the only values the ``header`` label of the unusable-values metric takes
HEADER_NAMES = (LIMIT, REMAINING, RESET, RETRY_AFTER)

#: no workspace is allowed more requests than this in one window
_MAX_COUNT = 1_000_000_000
#: the longest wait a header may ask for unless told otherwise: Braze's longest windows are hourly
DEFAULT_MAX_AHEAD_S = 3600.0


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    limit: int | None
    remaining: int | None
    reset_epoch_s: float | None
    retry_after_s: float | None
    #: the headers present whose value was ignored or changed (names from :data:`HEADER_NAMES`)
    unusable: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, headers: Mapping[str, str], *, now_s: float | None = None, max_ahead_s: float = DEFAULT_MAX_AHEAD_S
    ) -> RateLimitHeaders:
        """Read the headers of one answer received at ``now_s`` (epoch seconds, default: now)."""
        now = time.time() if now_s is None else now_s
        reader = _Reader(headers)
        limit, remaining = reader.limit(), reader.remaining()
        reset, retry_after = reader.reset(now, max_ahead_s), reader.retry_after(now, max_ahead_s)
        return cls(limit, remaining, reset, retry_after, tuple(reader.unusable))


class _Reader:
    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers
        self.unusable: list[str] = []

    def _number(self, name: str) -> float | None:
        text = self._headers.get(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.unusable.append(name)
            return None
        return value

    def limit(self) -> int | None:
        value = self._number(LIMIT)
        if value is not None and not 1 <= value <= _MAX_COUNT:
            self.unusable.append(LIMIT)
            return None
        return None if value is None else int(value)

    def remaining(self) -> int | None:
        value = self._number(REMAINING)
        if value is not None and value > _MAX_COUNT:
            self.unusable.append(REMAINING)
            return None
        if value is not None and value < 0:  # over the limit: nothing left
            self.unusable.append(REMAINING)
            return 0
        return None if value is None else int(value)

    def reset(self, now: float, max_ahead_s: float) -> float | None:
        value = self._number(RESET)
        if value is None:
            return None
        if value > now + max_ahead_s and now < value / 1000 <= now + max_ahead_s:
            self.unusable.append(RESET)  # milliseconds, not seconds
            return value / 1000
        if value <= 0:
            self.unusable.append(RESET)
            return None
        if value > now + max_ahead_s:
            self.unusable.append(RESET)
            return now + max_ahead_s
        return value

    def retry_after(self, now: float, max_ahead_s: float) -> float | None:
        text = self._headers.get(RETRY_AFTER)
        if text is None:
            return None
        seconds: float | None
        try:
            seconds = float(text)
        except ValueError:
            seconds = _http_date(text, now)
        if seconds is None or not math.isfinite(seconds):
            self.unusable.append(RETRY_AFTER)
            return None
        if not 0 <= seconds <= max_ahead_s:
            self.unusable.append(RETRY_AFTER)
            return min(max(seconds, 0.0), max_ahead_s)
        return seconds


def _http_date(text: str, now: float) -> float | None:
    """Seconds from ``now`` to an HTTP date (``Wed, 21 Oct 2015 07:28:00 GMT``); a date past is 0."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # HTTP dates are GMT; a date without a zone is read as such
        return None
    return max(0.0, moment.timestamp() - now)
