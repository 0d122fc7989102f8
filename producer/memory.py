"""Giving memory back to the system after a burst of connections.

A flood of clients that each send part of a body makes the intake hold their chunks (64 KB pieces
from glibc's heap) until the body deadline closes them. Freed, those pieces stay in the heap between
longer-lived objects, so the process kept its peak RSS (measured: 58 MB before a flood of 1,000
body-tricklers, 114 MB at its peak, still 114 MB after). ``malloc_trim`` hands the free pages back
(58 MB after, the same flood). It runs once a burst is over: when the open connections fell to a
quarter of a peak of at least :data:`MIN_PEAK_CONNECTIONS`. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from komo_braze.logs import get_logger

log = get_logger(__name__)

#: a burst worth trimming after: fewer connections cannot have held much
MIN_PEAK_CONNECTIONS = 64


def _load_malloc_trim() -> Callable[[int], int] | None:
    # the process's own symbols, which hold the C library's: no search for it (find_library runs
    # ldconfig, or gcc, in a subprocess at every start)
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def trim_heap() -> bool:
    """Return the heap's free pages to the system; whether this C library can."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class BurstTrimmer:
    """Watches the number of open connections and trims the heap once each burst is over.

    :param enabled: the switch (``KOMO_BRAZE_PRODUCER_TRIM_MEMORY``)
    :param trim: what trimming does (``trim_heap`` unless a test passes its own)
    """

    def __init__(self, *, enabled: bool, trim: Callable[[], bool] = trim_heap) -> None:
        self._enabled = enabled
        self._trim = trim
        self._peak = 0
        self.trims = 0

    def observe(self, open_connections: int) -> None:
        self._peak = max(self._peak, open_connections)
        if self._peak < MIN_PEAK_CONNECTIONS or open_connections > self._peak // 4:
            return
        peak, self._peak = self._peak, open_connections
        if self._enabled and self._trim():
            self.trims += 1
            log.info("heap_trimmed", peak_connections=peak, open_connections=open_connections)
