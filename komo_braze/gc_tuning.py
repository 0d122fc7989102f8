"""Garbage-collector tuning for the two processes that allocate per message: the worker and braze-sim.

Each message makes a few dozen small containers (the envelope's dict, the mapped attributes, a request
body's lists), nearly all freed by reference counting. With Python's default thresholds (700, 10, 10)
the collector still walks every young object 700 allocations at a time, and in braze-sim, which keeps
its profiles and events alive, the older generations too. So :func:`tune_gc` moves what start-up made
(modules, settings, the compiled mapping) out of every collection for good (``gc.freeze()``) and
collects young garbage less often (:data:`GC_THRESHOLDS`). Cycles are still collected, later.

What it buys is measured by ``python -m bench worker --gc-compare`` and ``python -m bench sim
--gc-compare``: each process with and without it in the same run (figures in ``docs/decisions.md``, "GC
tuning": 4-7% less worker CPU over 60,000 messages, level over 20,000 and in braze-sim).
``KOMO_BRAZE_GC_TUNING=false`` turns it off.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc"]

#: (young, middle, old): young garbage collected every 50,000 net allocations instead of 700
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc(enabled: bool) -> None:
    """Once start-up is done: freeze what exists and raise the thresholds; nothing when not ``enabled``."""
    if not enabled:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
