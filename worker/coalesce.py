"""The coalescer: submissions of one workspace become batches (docs/architecture.md, "Coalescing and pacing").

Pure bookkeeping, no I/O and no clock of its own (``now`` is passed in), so every rule is testable:

- the open batch is sealed when one more submission would break a limit (75 objects in total, or 75 per
  array in ``per-array`` mode; the body size), when its linger time has passed, or when forced (shutdown);
- several submissions of one user share one attribute object; each distinct ``submission_id`` adds one
  event, a repeated one none;
- a user in a sealed batch (waiting for a send slot or in flight) is *busy*: newer submissions of theirs
  wait (in arrival order) until that batch is released, so per-user order holds across batches.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic

from worker.batch import BODY_OVERHEAD_BYTES, Batch, H, Submission, Unit
from worker.mapping.model import UserKey

MAX_OBJECTS = 75
MAX_BODY_BYTES = 4_000_000


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_objects: int = MAX_OBJECTS
    per_array: bool = False  # legacy accounts: max_objects in each array instead of in all together
    max_bytes: int = MAX_BODY_BYTES
    linger_s: float = 0.25


class Coalescer(Generic[H]):
    """Batches for one workspace."""

    def __init__(self, workspace: str, limits: BatchLimits) -> None:
        self.workspace = workspace
        self.limits = limits
        self._open: dict[UserKey, Unit[H]] = {}
        self._open_attributes = 0
        self._open_events = 0
        self._open_bytes = BODY_OVERHEAD_BYTES
        self._open_since: float | None = None
        self._ready: deque[Batch[H]] = deque()
        self._busy: Counter[UserKey] = Counter()
        self._deferred: list[Submission[H]] = []
        self._seq = 0
        self._held = 0

    # --- taking submissions in ------------------------------------------------------------------

    def add(self, submission: Submission[H], now: float) -> None:
        self._seq += 1
        self._held += 1
        submission.seq = self._seq
        if self._busy[submission.user]:
            self._deferred.append(submission)
        else:
            self._place(submission, now)

    def _fits(self, attributes: int, events: int, size_bytes: int) -> bool:
        limits = self.limits
        if self._open_bytes + size_bytes > limits.max_bytes:
            return False
        if limits.per_array:
            return attributes <= limits.max_objects and events <= limits.max_objects
        return attributes + events <= limits.max_objects

    def _place(self, submission: Submission[H], now: float) -> None:
        unit = self._open.get(submission.user)
        new_attribute = unit is None
        new_event = submission.has_event and (unit is None or submission.submission_id not in unit.submission_ids())
        attributes, events = self._open_attributes + new_attribute, self._open_events + new_event
        if self._open and not self._fits(attributes, events, submission.size_bytes):
            self._seal()
            if self._busy[submission.user]:  # their earlier submissions just left in the sealed batch
                self._deferred.append(submission)
                return
            self._place(submission, now)
            return
        if unit is None:
            unit = self._open[submission.user] = Unit(submission.user)
        unit.submissions.append(submission)
        self._open_attributes, self._open_events = attributes, events
        self._open_bytes += submission.size_bytes
        if self._open_since is None:
            self._open_since = now
        if self._full():
            self._seal()

    def _full(self) -> bool:
        limits = self.limits
        if self._open_bytes >= limits.max_bytes:
            return True
        if limits.per_array:
            return max(self._open_attributes, self._open_events) >= limits.max_objects
        return self._open_attributes + self._open_events >= limits.max_objects

    def _seal(self) -> None:
        batch = Batch(self.workspace, list(self._open.values()))
        self._busy.update(batch.users)
        self._ready.append(batch)
        self._open = {}
        self._open_attributes = self._open_events = 0
        self._open_bytes = BODY_OVERHEAD_BYTES
        self._open_since = None

    # --- handing batches out --------------------------------------------------------------------

    def due_in(self, now: float) -> float | None:
        """Seconds until a batch can be taken (0: now), or None when nothing waits to be sent."""
        if self._ready:
            return 0.0
        if self._open_since is None:
            return None
        return max(0.0, self._open_since + self.limits.linger_s - now)

    def take(self, now: float, *, force: bool = False) -> Batch[H] | None:
        """The next batch to send: a sealed one, else the open one if its linger passed (or ``force``)."""
        if not self._ready and self._open and (force or (self.due_in(now) or 0.0) <= 0.0):
            self._seal()
        if not self._ready:
            return None
        batch = self._ready.popleft()
        self._held -= len(batch.submissions)
        return batch

    def release(self, batch: Batch[H], now: float) -> None:
        """``batch`` has been dealt with (acked, dead-lettered or returned): its users are free again."""
        self._busy.subtract(batch.users)
        self._busy = +self._busy  # drop zero counts
        waiting, self._deferred = self._deferred, []
        for submission in waiting:
            if self._busy[submission.user]:
                self._deferred.append(submission)
            else:
                self._place(submission, now)

    def give_back(self, batch: Batch[H], now: float) -> None:
        """Take back a batch that was handed out but not sent (another worker held its users): its
        submissions are placed again ahead of their users' newer ones, then those users are free. They
        have lingered once already: the batch they join is due at once."""
        self._held += len(batch.submissions)
        self._deferred[:0] = sorted(batch.submissions, key=lambda s: s.seq)
        self.release(batch, now)
        if self._open_since is not None and any(s.user in self._open for s in batch.submissions):
            self._open_since = min(self._open_since, now - self.limits.linger_s)

    def discard(self, drop: Callable[[Submission[H]], bool]) -> list[Submission[H]]:
        """Remove and return the held (not yet sealed) submissions ``drop`` selects."""
        dropped = [s for s in self._deferred if drop(s)]
        self._deferred = [s for s in self._deferred if not drop(s)]
        kept = [s for unit in self._open.values() for s in unit.submissions]
        if any(drop(s) for s in kept):
            dropped += [s for s in kept if drop(s)]
            since = self._open_since
            self._open = {}
            self._open_attributes = self._open_events = 0
            self._open_bytes = BODY_OVERHEAD_BYTES
            self._open_since = None
            for submission in kept:
                if not drop(submission):
                    self._place(submission, since or 0.0)
        self._held -= len(dropped)
        return dropped

    # --- what it holds --------------------------------------------------------------------------

    @property
    def held(self) -> int:
        """Submissions not yet handed out (open batch, sealed batches waiting, deferred)."""
        return self._held

    @property
    def has_open(self) -> bool:
        return bool(self._open)

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)
