"""The dead-letter format moved to :mod:`komo_braze.deadletter` (a wire format the dlq tools read too).

These names stay here only for the two modules another branch is still changing (``worker/settle.py``,
``worker/pipeline.py``); they import from ``komo_braze.deadletter`` once that work has landed, and this
module goes (issue 13).
"""

from __future__ import annotations

from komo_braze.deadletter import ErrorKind, build_dead_letter, publish_dead_letter

__all__ = ["ErrorKind", "build_dead_letter", "publish_dead_letter"]
