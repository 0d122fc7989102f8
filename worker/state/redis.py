"""The Redis state store (``KOMO_BRAZE_STATE_URL=redis://…``), shared by every worker of a deployment.

Keys, all under ``{KOMO_BRAZE_PREFIX}:state:``:

- ``claim:{user}``: the worker holding the user (its owner token), with a TTL it renews while in flight;
- ``user:{user}``: ``{attribute: [Komo time in ms, value digest]}`` of what was last accepted (JSON, one
  value per user), expiring ``user_retention_s`` after its latest write;
- ``accepted:{submission_id}``: present for ``accepted_retention_s`` after Braze accepted it.

Claiming a batch is one Lua script (atomic: the claim, the attributes read under it, and the accepted ids
are one consistent view); recording is another. A worker records the accepted ids *before* it releases
the claims, so whoever claims the user next sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from worker.state import DEFAULT_TIMEOUT_S, Claims, UserState, decode_user, encode_user

_CLAIM = """
local owner, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local claimed, seen, accepted = {}, {}, {}
for i = 1, n do
  local ok = redis.call('SET', KEYS[i], owner, 'NX', 'PX', ttl)
  if not ok and redis.call('GET', KEYS[i]) == owner then
    redis.call('PEXPIRE', KEYS[i], ttl)
    ok = true
  end
  if ok then
    claimed[i] = 1
    seen[i] = redis.call('GET', KEYS[n + i]) or ''
  else
    claimed[i] = 0
    seen[i] = ''
  end
end
for j = 2 * n + 1, #KEYS do
  accepted[#accepted + 1] = redis.call('EXISTS', KEYS[j])
end
return {claimed, seen, accepted}
"""

_RECORD = """
local owner, accepted_ms, user_ms, a = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local u = #ARGV - 4
for i = 1, a do
  redis.call('SET', KEYS[i], '1', 'PX', accepted_ms)
end
for i = 1, u do
  redis.call('SET', KEYS[a + i], ARGV[4 + i], 'PX', user_ms)
end
for i = a + u + 1, #KEYS do
  if redis.call('GET', KEYS[i]) == owner then redis.call('DEL', KEYS[i]) end
end
return 0
"""

_RENEW = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 0
"""

_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
"""


class RedisStore:
    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        accepted_retention_s: float,
        user_retention_s: float,
        claim_ttl_s: float,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        owner: str | None = None,
    ) -> None:
        # no retries inside the client: the fallback store decides what a failure means (wait, or go on per process)
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
        )
        self._base = f"{prefix}:state:"
        self._accepted_retention_ms = int(accepted_retention_s * 1000)
        self._user_retention_ms = int(user_retention_s * 1000)
        self._claim_ttl_ms = max(1, int(claim_ttl_s * 1000))
        self._owner = owner or uuid.uuid4().hex
        self._claim = self._redis.register_script(_CLAIM)
        self._record = self._redis.register_script(_RECORD)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    @property
    def shared(self) -> bool:
        return True

    def _claim_key(self, user: str) -> str:
        return f"{self._base}claim:{user}"

    def _user_key(self, user: str) -> str:
        return f"{self._base}user:{user}"

    def _accepted_key(self, submission_id: str) -> str:
        return f"{self._base}accepted:{submission_id}"

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        keys = [
            *(self._claim_key(u) for u in users),
            *(self._user_key(u) for u in users),
            *(self._accepted_key(i) for i in submission_ids),
        ]
        answer: Any = await self._claim(keys=keys, args=[self._owner, self._claim_ttl_ms, len(users)])
        claimed_flags, seen_lists, accepted_flags = answer
        claimed: set[str] = set()
        seen: dict[str, UserState] = {}
        for user, flag, raw in zip(users, claimed_flags, seen_lists, strict=True):
            if flag:
                claimed.add(user)
                seen[user] = decode_user(raw)
        accepted = {i for i, flag in zip(submission_ids, accepted_flags, strict=True) if flag}
        return Claims(frozenset(claimed), frozenset(accepted), seen)

    async def renew(self, users: Sequence[str]) -> None:
        if users:
            await self._renew(keys=[self._claim_key(u) for u in users], args=[self._owner, self._claim_ttl_ms])

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        # one script, not a pipeline of one command per id and user, and one value per user: packing
        # hundreds of arguments cost the worker more CPU than the round trip itself
        keys = [
            *(self._accepted_key(i) for i in submission_ids),
            *(self._user_key(user) for user in seen),
            *(self._claim_key(u) for u in release),  # last: whoever claims them next sees the writes
        ]
        args: list[str | int | bytes] = [
            self._owner,
            self._accepted_retention_ms,
            self._user_retention_ms,
            len(submission_ids),
            *(encode_user(attributes) for attributes in seen.values()),
        ]
        await self._record(keys=keys, args=args)

    async def release(self, users: Sequence[str]) -> None:
        if users:
            await self._release(keys=[self._claim_key(u) for u in users], args=[self._owner])

    async def delete_all(self) -> int:
        """Delete every key of this prefix (tests, and a tenant's clean-up); returns how many."""
        deleted = 0
        async for key in self._redis.scan_iter(match=f"{self._base}*", count=1000):
            deleted += int(await self._redis.delete(key))
        return deleted

    async def close(self) -> None:
        await self._redis.aclose()
