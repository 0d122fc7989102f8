"""At most one log line per key and window: for repeated, expected events such as a rejected field.

A hub that sends a bad value in every submission would otherwise log once per submission; the metric
still counts every one, the log says it once a window with how many it left out. The clock is passed
in (monotonic seconds), so the policy is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

#: keys remembered at most; past it the key logged longest ago is forgotten (it may log again early,
#: and its count of left-out occurrences is lost from the log, never from the metric)
MAX_KEYS = 10_000


class LogThrottle:
    """Decides whether an occurrence of ``key`` is logged now.

    :param window_s: the shortest time between two log lines of one key
    :param clock: monotonic seconds (``time.monotonic`` unless a test passes its own)
    :param max_keys: how many keys are remembered; memory stays bounded whatever the keys are
    """

    def __init__(
        self, window_s: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        if window_s <= 0 or max_keys < 1:
            raise ValueError("window_s must be positive and max_keys at least 1")
        self._window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        #: key -> (when it was last logged, occurrences left out since); ordered by when logged
        self._seen: dict[Hashable, tuple[float, int]] = {}

    def admit(self, key: Hashable) -> int | None:
        """``None`` when this occurrence is left out; else log it, with the returned count of
        occurrences left out since the key was last logged."""
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._window_s:
            self._seen[key] = (last[0], last[1] + 1)
            return None
        self._seen.pop(key, None)  # re-inserted last: the dict stays ordered by when each key was logged
        self._seen[key] = (now, 0)
        while len(self._seen) > self._max_keys:
            del self._seen[next(iter(self._seen))]
        return 0 if last is None else last[1]

    def __len__(self) -> int:
        return len(self._seen)
