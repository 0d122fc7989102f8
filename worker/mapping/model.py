"""What mapping one envelope yields: the contract between the mapper and the rest of the worker.

The mapper returns either :class:`Mapped` (Braze objects for one submission) or :class:`MappingFailure`
(the submission can never be delivered and is dead-lettered with ``kind`` as its ``x-error-kind``).
Nothing here ever carries a rejected *value*: only attribute names and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class IdentifierKind(StrEnum):
    EXTERNAL_ID = "external_id"
    BRAZE_ID = "braze_id"
    ALIAS = "alias"
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class UserKey:
    """Who a submission is about, as Braze will identify them: the key for coalescing and ordering.

    For an alias ``value`` is ``"<label>:<name>"``. Two submissions with equal keys are the same user.
    """

    kind: IdentifierKind
    value: str


@dataclass(frozen=True, slots=True)
class RejectedField:
    """A Komo field the mapping names whose value did not fit its type: dropped, counted, logged."""

    attribute: str  # the Braze attribute it would have set
    reason: str  # e.g. "not a valid email address"; never the value itself
    field: str | None = None  # the Komo field it came from, where the mapping names one


@dataclass(frozen=True, slots=True)
class Mapped:
    """The Braze objects for one submission."""

    workspace: str
    user: UserKey
    #: a complete `/users/track` attribute object: identifier fields, `_update_existing_only` where
    #: needed, and the mapped attributes (may hold nothing beyond the identifier)
    attributes: dict[str, Any]
    #: a complete event object (identifier, name, time, properties), or None when the hub maps no event
    event: dict[str, Any] | None
    #: Komo's `timestamp`, else the envelope's `received_at`: the later one wins field by field
    timestamp: datetime
    rejected: tuple[RejectedField, ...] = field(default=())
    #: the hub's ``skip_unchanged``: attributes equal to what Braze last accepted are not sent again
    skip_unchanged: bool = False


class MappingErrorKind(StrEnum):
    NO_IDENTIFIER = "no_identifier"
    INVALID_IDENTIFIER = "invalid_identifier"
    UNMAPPED_HUB = "unmapped_hub"


@dataclass(frozen=True, slots=True)
class MappingFailure:
    """The submission cannot become a Braze object; ``detail`` names fields, never values."""

    kind: MappingErrorKind
    detail: str


MapResult = Mapped | MappingFailure
