"""The in-process state store: the default for a single worker, and the fallback while Redis is down.

It keeps the same contract as the Redis store (the contract tests run against both), but only for the
process that holds it: accepted ids and users' attributes are bounded in number as well as in time, the
oldest forgotten first. Claims compare owners, so two pipelines sharing one :class:`MemoryState` (the
contract tests) behave like two workers sharing one Redis.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from worker.state import Claims, Seen, UserState

#: the most submission ids and users one process remembers (beyond them, the oldest are forgotten)
MAX_IDS = 200_000
MAX_USERS = 200_000


@dataclass
class MemoryState:
    """The data itself; every :class:`MemoryStore` on it is one "worker"."""

    clock: Callable[[], float] = time.monotonic
    max_ids: int = MAX_IDS
    max_users: int = MAX_USERS
    accepted: OrderedDict[str, float] = field(default_factory=OrderedDict)  # id -> expires at
    users: OrderedDict[str, tuple[float, dict[str, Seen]]] = field(default_factory=OrderedDict)
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)  # user -> (owner, expires at)


class MemoryStore:
    def __init__(
        self,
        state: MemoryState | None = None,
        *,
        accepted_retention_s: float,
        user_retention_s: float,
        claim_ttl_s: float,
        owner: str | None = None,
    ) -> None:
        self._state = state or MemoryState()
        self._accepted_retention_s = accepted_retention_s
        self._user_retention_s = user_retention_s
        self._claim_ttl_s = claim_ttl_s
        self._owner = owner or uuid.uuid4().hex

    @property
    def shared(self) -> bool:
        return False

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        state, now = self._state, self._state.clock()
        claimed: set[str] = set()
        seen: dict[str, UserState] = {}
        for user in users:
            holder = state.claims.get(user)
            if holder is not None and holder[0] != self._owner and holder[1] > now:
                continue
            state.claims[user] = (self._owner, now + self._claim_ttl_s)
            claimed.add(user)
            kept = state.users.get(user)
            seen[user] = dict(kept[1]) if kept is not None and kept[0] > now else {}
        return Claims(frozenset(claimed), self.accepted_among(submission_ids), seen)

    def accepted_among(self, submission_ids: Sequence[str]) -> frozenset[str]:
        """Which of ``submission_ids`` this process recorded as accepted (no claim taken)."""
        accepted, now = self._state.accepted, self._state.clock()
        return frozenset(i for i in submission_ids if accepted.get(i, 0.0) > now)

    async def renew(self, users: Sequence[str]) -> None:
        state, now = self._state, self._state.clock()
        for user in users:
            holder = state.claims.get(user)
            if holder is not None and holder[0] == self._owner:
                state.claims[user] = (self._owner, now + self._claim_ttl_s)

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        state, now = self._state, self._state.clock()
        accepted, expires = state.accepted, now + self._accepted_retention_s
        for submission_id in submission_ids:
            if submission_id in accepted:  # a new id goes to the end by itself
                accepted.move_to_end(submission_id)
            accepted[submission_id] = expires
        while len(state.accepted) > state.max_ids:
            state.accepted.popitem(last=False)
        for user, attributes in seen.items():
            state.users[user] = (now + self._user_retention_s, dict(attributes))
            state.users.move_to_end(user)
        while len(state.users) > state.max_users:
            state.users.popitem(last=False)
        await self.release(release)

    async def release(self, users: Sequence[str]) -> None:
        for user in users:
            holder = self._state.claims.get(user)
            if holder is not None and holder[0] == self._owner:
                del self._state.claims[user]

    async def close(self) -> None:
        return None
