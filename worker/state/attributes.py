"""Which attribute values of a user's object are worth sending, given what Braze last accepted for them.

- A value whose Komo time is older than the one last accepted for that attribute is held back (``older``):
  a newer value is already in Braze, whichever worker sent it, and must stay.
- With the hub's ``skip_unchanged``, a value equal to the one last accepted is held back (``unchanged``);
  its time is still recorded, so that an older value arriving later is recognised as older.
- Identifiers, ``_update_existing_only``, subscription groups, array edits and increments are always sent:
  they identify or steer, or they are operations rather than values.

An object left with nothing but what identifies the user is not sent at all (its events still are).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from worker.batch import H, Unit
from worker.mapping.field_types import RESERVED_ATTRIBUTES
from worker.mapping.model import IdentifierKind, UserKey
from worker.merge import is_edit, is_increment
from worker.state import Seen, UserState, newest_time, seen_digest, seen_time, value_digest

_CONTACT_KINDS = (IdentifierKind.EMAIL, IdentifierKind.PHONE)


@dataclass(slots=True)
class Sendable(Generic[H]):
    """One unit's attribute object after the check, and what to record once Braze accepts it."""

    unit: Unit[H]
    attributes: dict[str, Any] | None  # None: nothing left worth a write
    record: dict[str, Seen] = field(default_factory=dict)
    sent: int = 0  # attribute values (data points) in ``attributes``
    older: int = 0
    unchanged: int = 0


def _timestamp_ms(unit: Unit[H]) -> dict[str, int]:
    """Each attribute's Komo time: that of the latest submission that set it."""
    if len(unit.submissions) == 1:  # most units
        only = unit.submissions[0].mapped
        return dict.fromkeys(only.attributes, int(only.timestamp.timestamp() * 1000))
    times: dict[str, int] = {}
    for submission in unit.ordered():
        stamp = int(submission.mapped.timestamp.timestamp() * 1000)
        for name in submission.mapped.attributes:
            times[name] = stamp
    return times


def sendable(unit: Unit[H], seen: UserState) -> Sendable[H]:
    """The part of ``unit``'s attribute object to send, given ``seen`` (what was last accepted)."""
    merged = unit.attribute_object()
    skip_unchanged = all(s.mapped.skip_unchanged for s in unit.submissions)
    if not skip_unchanged and len(unit.submissions) == 1:
        whole = _newer_than_seen(unit, merged, seen)
        if whole is not None:
            return whole
    return compared(unit, merged, seen, skip_unchanged=skip_unchanged)


def compared(unit: Unit[H], merged: dict[str, Any], seen: UserState, *, skip_unchanged: bool) -> Sendable[H]:
    """:func:`sendable` value by value: each against what was last accepted for it."""
    times = _timestamp_ms(unit)
    protected = _protected(unit.user)
    result: Sendable[H] = Sendable(unit, None)
    kept: dict[str, Any] = {}
    values = 0
    for name, value in merged.items():
        if name in protected or (type(value) is dict and _is_operation(value)):
            kept[name] = value  # identifies, steers, or is an operation rather than a value
            continue
        stamp, last = times[name], seen.get(name)
        if last is not None and seen_time(last) > stamp:
            result.older += 1
            continue
        if not skip_unchanged:  # the time alone: digests only where they are compared
            kept[name], result.record[name] = value, stamp
            values += 1
            continue
        digest = value_digest(value)
        if last is not None and seen_digest(last) == digest:
            result.unchanged += 1
            result.record[name] = (max(stamp, seen_time(last)), digest)
            continue
        kept[name] = value
        values += 1
        result.record[name] = (stamp, digest)
    result.sent = values
    if values or not (result.older or result.unchanged):
        result.attributes = kept
    return result


def _newer_than_seen(unit: Unit[H], merged: dict[str, Any], seen: UserState) -> Sendable[H] | None:
    """A one-submission unit newer than everything accepted for its user (most units) is sent whole: no value
    is compared, and each is recorded with the submission's time. ``None``: some value may be older."""
    stamp = int(unit.submissions[0].mapped.timestamp.timestamp() * 1000)
    if seen and newest_time(seen) > stamp:
        return None
    protected = _protected(unit.user)
    if dict in set(map(type, merged.values())):  # an array edit or an increment, maybe: looked at one by one
        names = [n for n, v in merged.items() if n not in protected and not (type(v) is dict and _is_operation(v))]
    else:  # most objects: only values
        names = [n for n in merged if n not in protected]
    record: dict[str, Seen] = dict.fromkeys(names, stamp)
    return Sendable(unit, merged, record, sent=len(record))


def _is_operation(value: dict[str, Any]) -> bool:
    return is_edit(value) or is_increment(value)


#: keys always sent as they are, by the kind of identifier: the identifier (an email or phone identifies
#: too) and steering keys
_PROTECTED = {
    kind: RESERVED_ATTRIBUTES | {kind.value} if kind in _CONTACT_KINDS else RESERVED_ATTRIBUTES
    for kind in IdentifierKind
}


def _protected(user: UserKey) -> frozenset[str]:
    return _PROTECTED[user.kind]


@dataclass(slots=True)
class BatchState(Generic[H]):
    """What the state store said about one batch's users, and what its request holds back."""

    tokens: dict[UserKey, str]  # each user's name in the store
    seen: Mapping[str, UserState]  # what Braze last accepted, per claimed user
    claimed: set[str]  # users this batch still holds claims on
    #: False for an in-process store: one process's batcher already keeps each user's updates in order,
    #: so only ``skip_unchanged`` hubs need the check (and its bookkeeping)
    check_order: bool = True
    sendables: dict[UserKey, Sendable[H]] = field(default_factory=dict)

    def attribute_object(self, unit: Unit[H]) -> dict[str, Any] | None:
        if not self.check_order and not all(s.mapped.skip_unchanged for s in unit.submissions):
            merged = unit.attribute_object()
            result: Sendable[H] = Sendable(unit, merged, sent=len(merged.keys() - _protected(unit.user)))
        else:
            result = sendable(unit, self.seen.get(self.tokens[unit.user], {}))
        self.sendables[unit.user] = result
        return result.attributes
