"""A batch for one ``/users/track`` request, and the map from each object back to its messages.

A batch is a list of :class:`Unit`\\ s, one per user: the user's attribute object (their submissions
merged field by field, the later Komo ``timestamp`` winning) followed by one event per distinct
``submission_id``. A user's attribute object and events always travel together, so splitting a batch
(after a 400 or 413) splits it between users, never inside one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from worker.mapping.model import Mapped, UserKey
from worker.merge import merge_attributes

H = TypeVar("H")

#: `{"attributes":[],"events":[]}` plus a comma per object: what a body adds to its objects
BODY_OVERHEAD_BYTES = 32


@dataclass(eq=False, slots=True)
class Submission(Generic[H]):
    """One consumed message, mapped: ``handle`` is what the consumer acks (opaque here)."""

    handle: H
    submission_id: str
    mapped: Mapped
    received_at: datetime
    seq: int = 0
    size_bytes: int = field(default=0)
    claim_waits: int = 0  # times its user was found claimed by another worker

    def __post_init__(self) -> None:
        if not self.size_bytes:
            size = len(orjson.dumps(self.mapped.attributes)) + 1
            if self.mapped.event is not None:
                size += len(orjson.dumps(self.mapped.event)) + 1
            self.size_bytes = size

    @property
    def user(self) -> UserKey:
        return self.mapped.user

    @property
    def has_event(self) -> bool:
        return self.mapped.event is not None


@dataclass(eq=False, slots=True)
class Unit(Generic[H]):
    """One user's share of a batch: their submissions in arrival order."""

    user: UserKey
    submissions: list[Submission[H]] = field(default_factory=list)

    def ordered(self) -> list[Submission[H]]:
        if len(self.submissions) == 1:  # most units: a user seen once in the batch
            return list(self.submissions)
        return sorted(self.submissions, key=lambda s: (s.mapped.timestamp, s.seq))

    def attribute_object(self) -> dict[str, Any]:
        if len(self.submissions) == 1:  # what merging one object gives, without the field-by-field pass
            return dict(self.submissions[0].mapped.attributes)
        return merge_attributes(s.mapped.attributes for s in self.ordered())

    def events(self) -> list[tuple[dict[str, Any], list[Submission[H]]]]:
        """One event per distinct submission id (a redelivered copy adds none), oldest first."""
        if len(self.submissions) == 1:
            only = self.submissions[0]
            return [] if only.mapped.event is None else [(only.mapped.event, [only])]
        by_id: dict[str, tuple[dict[str, Any], list[Submission[H]]]] = {}
        for submission in self.ordered():
            event = submission.mapped.event
            if event is None:
                continue
            if submission.submission_id in by_id:
                by_id[submission.submission_id][1].append(submission)
            else:
                by_id[submission.submission_id] = (event, [submission])
        return list(by_id.values())

    def submission_ids(self) -> set[str]:
        return {s.submission_id for s in self.submissions}

    def event_count(self) -> int:
        return len({s.submission_id for s in self.submissions if s.has_event})

    def alone(self) -> list[Unit[H]]:
        """This user's submissions as separate units, oldest first (copies of one id stay together)."""
        units: dict[str, Unit[H]] = {}
        for submission in self.ordered():
            units.setdefault(submission.submission_id, Unit(self.user)).submissions.append(submission)
        return list(units.values())


@dataclass(frozen=True, slots=True)
class IndexMap(Generic[H]):
    """``attributes[i]`` / ``events[j]`` of a request body -> the submissions behind that object."""

    attributes: list[list[Submission[H]]]
    events: list[list[Submission[H]]]

    def behind(self, input_array: str, index: int) -> list[Submission[H]]:
        array = self.attributes if input_array == "attributes" else self.events if input_array == "events" else []
        return array[index] if 0 <= index < len(array) else []


@dataclass(eq=False)
class Batch(Generic[H]):
    """The units of one request to one workspace."""

    workspace: str
    units: list[Unit[H]]

    @property
    def submissions(self) -> list[Submission[H]]:
        return [s for unit in self.units for s in unit.submissions]

    @property
    def users(self) -> list[UserKey]:
        return [unit.user for unit in self.units]

    def object_count(self) -> int:
        return sum(1 + unit.event_count() for unit in self.units)

    def body(
        self, attribute_object: Callable[[Unit[H]], dict[str, Any] | None] | None = None
    ) -> tuple[dict[str, Any], IndexMap[H]]:
        """The request body and its index map. Attribute objects come first: Braze applies them before
        events, and an event keyed by an alias only reaches a profile that already exists.

        ``attribute_object`` replaces :meth:`Unit.attribute_object` (the state store holds back older or
        unchanged values); where it returns None the unit sends no attribute object."""
        attributes: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        index: IndexMap[H] = IndexMap([], [])
        for unit in self.units:
            obj = unit.attribute_object() if attribute_object is None else attribute_object(unit)
            if obj is not None:
                attributes.append(obj)
                index.attributes.append(list(unit.submissions))
            for event, behind in unit.events():
                events.append(event)
                index.events.append(behind)
        body: dict[str, Any] = {"attributes": attributes} if attributes or not events else {}
        if events:
            body["events"] = events
        return body, index

    def without(self, drop: Callable[[Submission[H]], bool]) -> Batch[H]:
        """A copy without the submissions ``drop`` selects (units left empty disappear)."""
        units = []
        for unit in self.units:
            kept = [s for s in unit.submissions if not drop(s)]
            if kept:
                units.append(Unit(unit.user, kept))
        return Batch(self.workspace, units)

    def halves(self) -> tuple[Batch[H], Batch[H]]:
        middle = len(self.units) // 2
        return Batch(self.workspace, self.units[:middle]), Batch(self.workspace, self.units[middle:])

    def coalesced_count(self) -> int:
        """Submissions merged into another's attribute object (the "coalesced updates" count)."""
        return sum(len(unit.submission_ids()) - 1 for unit in self.units)
