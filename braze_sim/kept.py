"""Accepted events and purchases, kept for the admin endpoints, about the latest ``max_records``.

They are kept per request, as one JSON blob with the braze_ids beside it: one allocation per request
instead of two per object. Growing memory object by object cost a quarter of the request path
(measured with bench/bench_sim.py); the blob is decoded only when someone reads it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson


class Kept(NamedTuple):
    """One kept event or purchase, as read back."""

    workspace: str
    braze_id: str
    obj: dict[str, Any]
    received_at: float


class KeptLog:
    """The latest accepted objects of one kind (events or purchases), oldest dropped by whole requests."""

    def __init__(self, max_records: int) -> None:
        self._batches: deque[tuple[str, tuple[str, ...], bytes, float]] = deque()
        self._count = 0
        self._max = max_records

    def __len__(self) -> int:
        return self._count

    def add(self, workspace: str, braze_ids: list[str], objects: list[dict[str, Any]], at: float) -> None:
        """Keep the objects of one request (``braze_ids[i]`` is the profile of ``objects[i]``)."""
        self._batches.append((workspace, tuple(braze_ids), orjson.dumps(objects), at))
        self._count += len(braze_ids)
        # drop the oldest requests while what remains still holds at least max_records
        while self._count - len(self._batches[0][1]) >= self._max:
            self._count -= len(self._batches.popleft()[1])

    def __iter__(self) -> Iterator[Kept]:
        """Oldest first."""
        for workspace, braze_ids, payload, at in list(self._batches):
            for braze_id, obj in zip(braze_ids, orjson.loads(payload), strict=True):
                yield Kept(workspace, braze_id, obj, at)
