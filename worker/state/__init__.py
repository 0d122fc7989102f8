"""The state store: what the workers of one deployment share (``docs/decisions.md``, "The state store:
per-user claims in Redis rather than partitioned queues").

One small interface, :class:`StateStore`, with two implementations: :class:`~worker.state.memory.MemoryStore`
(in-process, the default for a single worker, and the fallback while Redis is down) and
:class:`~worker.state.redis.RedisStore` (named by ``KOMO_BRAZE_STATE_URL``). A pipeline calls its store twice
per batch, each call one script: :meth:`StateStore.claim` before the request, and :meth:`StateStore.record`
(or :meth:`StateStore.release`) after Braze's answer, before any ack. On the worker's one connection to Redis
(:mod:`worker.state.link`) the claim and the request's slot in the shared limit go in one round trip.

Users are named by :func:`user_token`, a digest of their identifier, so no email or phone number is ever
written to the store; submission ids are Komo's own ids, not personal data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from worker.mapping.model import UserKey

#: claims and writes of one batch are one round trip; waiting longer than this means the store is down
DEFAULT_TIMEOUT_S = 1.0


#: what Braze last accepted for one attribute of one user: the Komo time of the value (ms) alone, or with the
#: value's digest, ``(time, digest)``, where the hub skips unchanged values. Most hubs keep times only: a bare
#: number is a third of the objects a pair is to decode and write, and a batch reads and writes several
#: hundred. From Redis a pair comes back as a JSON list, read the same way, by position; states written by an
#: earlier version hold ``[time, "-"]`` for every attribute, and are read as they are.
Seen = int | tuple[int, str]

#: a user's last accepted attributes: attribute name -> what was accepted
UserState = Mapping[str, Seen]


@dataclass(frozen=True, slots=True)
class Claims:
    """The answer to :meth:`StateStore.claim` for one batch."""

    #: users now claimed by this worker (until released); the others are claimed by another worker
    users: frozenset[str]
    #: submission ids Braze already accepted (from any worker, before any restart)
    accepted_ids: frozenset[str]
    #: for each claimed user, their last accepted attributes (empty when none are known)
    seen: Mapping[str, UserState]


class StateStore(Protocol):
    """What a pipeline needs of the shared state. Every method is one round trip (or none)."""

    @property
    def shared(self) -> bool:
        """True when other processes see the same state (a reachable Redis)."""
        ...

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        """Claim ``users`` for this worker (short TTL), and say which ids were accepted already."""
        ...

    async def renew(self, users: Sequence[str]) -> None:
        """Extend this worker's claims on ``users`` (while their batch is in flight)."""
        ...

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        """Remember accepted ids and each user's complete last accepted attributes (replacing what was kept:
        the caller holds the claim, read the state with it and merged), then release the claims on ``release``."""
        ...

    async def release(self, users: Sequence[str]) -> None:
        """Give up this worker's claims on ``users`` (a batch that ended without acceptance)."""
        ...

    async def close(self) -> None: ...


def seen_time(seen: Seen) -> int:
    """The Komo time (ms) of what was accepted."""
    return seen if isinstance(seen, int) else seen[0]


def seen_digest(seen: Seen) -> str | None:
    """The digest of what was accepted, where one was kept (``skip_unchanged``)."""
    return None if isinstance(seen, int) else seen[1]


def newest_time(state: UserState) -> int:
    """The latest Komo time (ms) of anything accepted for a user (``state`` not empty)."""
    try:
        newest = max(state.values())  # all bare times (most states), or all pairs: compared by time first
    except TypeError:  # both kinds
        return max(map(seen_time, state.values()))
    return seen_time(newest)


def user_token(user: UserKey) -> str:
    """A user's name in the store: a digest of the identifier (the store never holds personal data)."""
    raw = f"{user.kind.value}\x00{user.value}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def value_digest(value: Any) -> str:
    """A short digest of an attribute value: equal values, equal digests; the value itself is not kept."""
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()
