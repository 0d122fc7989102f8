"""The Redis state store (``KOMO_BRAZE_STATE_URL=redis://…``), shared by every worker of a deployment.

Keys, all under ``{KOMO_BRAZE_PREFIX}:state:``:

- ``claim:{user}``: the worker holding the user (its owner token), with a TTL it renews while in flight;
- ``user:{user}``: ``{attribute: [Komo time in ms, value digest]}`` of what was last accepted (JSON, one
  value per user), expiring ``user_retention_s`` after its latest write;
- ``accepted:{submission_id}``: present for ``accepted_retention_s`` after Braze accepted it.

Claiming a batch is one Lua script (atomic: the claim, the attributes read under it, and the accepted ids
are one consistent view); recording is another. A worker records the accepted ids *before* it releases
the claims, so whoever claims the user next sees them.

The scripts take a batch's users and ids as one JSON array each and build the keys themselves, rather
than declaring one key per user and id: packing several hundred arguments was most of what a round trip
cost the worker. Declared keys would buy nothing here: a batch's keys span every hash slot, so no script
over them could run on Redis Cluster either way; the store wants one Redis (standalone, or a primary
that Sentinel or a managed service fails over).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from worker.state import DEFAULT_TIMEOUT_S, Claims, UserState

#: a flag in a script's answer: claimed, or accepted already
_YES = ord("1")

_CLAIM = """
local base, owner, ttl = ARGV[1], ARGV[2], ARGV[3]
local users, ids = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local claimed, seen, accepted = {}, {}, {}
for i = 1, #users do
  local claim = base .. 'claim:' .. users[i]
  local ok = redis.call('SET', claim, owner, 'NX', 'PX', ttl)
  if not ok and redis.call('GET', claim) == owner then
    redis.call('PEXPIRE', claim, ttl)
    ok = true
  end
  if ok then
    claimed[i] = '1'
    seen[#seen + 1] = redis.call('GET', base .. 'user:' .. users[i]) or '{}'
  else
    claimed[i] = '0'
  end
end
for j = 1, #ids do
  accepted[j] = redis.call('EXISTS', base .. 'accepted:' .. ids[j]) == 1 and '1' or '0'
end
return {table.concat(claimed), '[' .. table.concat(seen, ',') .. ']', table.concat(accepted)}
"""

# ARGV[7]: the users' states, one JSON object each, in the order of ARGV[6], separated by newlines (which
# compact JSON never holds)
_RECORD = """
local base, owner, accepted_ms, user_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ids, users, states, release = cjson.decode(ARGV[5]), cjson.decode(ARGV[6]), ARGV[7], cjson.decode(ARGV[8])
for i = 1, #ids do
  redis.call('SET', base .. 'accepted:' .. ids[i], '1', 'PX', accepted_ms)
end
local from = 1
for i = 1, #users do
  local stop = string.find(states, '\\n', from, true) or #states + 1
  redis.call('SET', base .. 'user:' .. users[i], string.sub(states, from, stop - 1), 'PX', user_ms)
  from = stop + 1
end
for i = 1, #release do
  local claim = base .. 'claim:' .. release[i]
  if redis.call('GET', claim) == owner then redis.call('DEL', claim) end
end
return 0
"""

_RENEW = """
local base, owner, ttl, users = ARGV[1], ARGV[2], ARGV[3], cjson.decode(ARGV[4])
for i = 1, #users do
  local claim = base .. 'claim:' .. users[i]
  if redis.call('GET', claim) == owner then redis.call('PEXPIRE', claim, ttl) end
end
return 0
"""

_RELEASE = """
local base, owner, users = ARGV[1], ARGV[2], cjson.decode(ARGV[3])
for i = 1, #users do
  local claim = base .. 'claim:' .. users[i]
  if redis.call('GET', claim) == owner then redis.call('DEL', claim) end
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
        max_connections: int | None = None,
    ) -> None:
        # no retries inside the client: the fallback store decides what a failure means (wait, or go on per process)
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
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

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        args: list[str | int | bytes] = [
            self._base,
            self._owner,
            self._claim_ttl_ms,
            orjson.dumps(users),
            orjson.dumps(submission_ids),
        ]
        flags, seen_list, accepted_flags = await self._claim(args=args)
        claimed = [user for user, flag in zip(users, flags, strict=True) if flag == _YES]
        seen: dict[str, UserState] = dict(zip(claimed, orjson.loads(seen_list), strict=True))
        accepted = {i for i, flag in zip(submission_ids, accepted_flags, strict=True) if flag == _YES}
        return Claims(frozenset(claimed), frozenset(accepted), seen)

    async def renew(self, users: Sequence[str]) -> None:
        if users:
            await self._renew(args=[self._base, self._owner, self._claim_ttl_ms, orjson.dumps(users)])

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        # the release comes last in the script: whoever claims the users next sees the writes
        states = b"\n".join(map(orjson.dumps, seen.values()))  # [time, digest] per attribute
        args: list[str | int | bytes] = [
            self._base,
            self._owner,
            self._accepted_retention_ms,
            self._user_retention_ms,
            orjson.dumps(submission_ids),
            orjson.dumps(list(seen)),
            states,
            orjson.dumps(release),
        ]
        await self._record(args=args)

    async def release(self, users: Sequence[str]) -> None:
        if users:
            await self._release(args=[self._base, self._owner, orjson.dumps(users)])

    async def delete_all(self) -> int:
        """Delete every key of this prefix (tests, and a tenant's clean-up); returns how many."""
        deleted = 0
        async for key in self._redis.scan_iter(match=f"{self._base}*", count=1000):
            deleted += int(await self._redis.delete(key))
        return deleted

    async def close(self) -> None:
        await self._redis.aclose()
