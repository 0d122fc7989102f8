"""The dead-letter format moved to :mod:`komo_braze.deadletter` (a wire format the dlq tools read too).

These names stay here only for the modules other work is still changing (``worker/settle.py``,
``worker/pipeline.py``, ``worker/dlq/move.py``, ``worker/dlq/transfer.py``); they import from
``komo_braze.deadletter`` once that work has landed, and this module goes (issue 13).
"""

from __future__ import annotations

from komo_braze.deadletter import REPLAYED_AT, DeadLetter, ErrorKind, build_dead_letter, publish_dead_letter

__all__ = ["REPLAYED_AT", "DeadLetter", "ErrorKind", "build_dead_letter", "publish_dead_letter"]
