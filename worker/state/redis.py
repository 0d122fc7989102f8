"""The Redis state store (``KOMO_BRAZE_STATE_URL=redis://…``), shared by every worker of a deployment.

Keys, all under ``{KOMO_BRAZE_PREFIX}:state:``:

- ``claims``: one hash, ``{user: "{owner}:{until}"}``, the worker holding each user and until when (Redis's
  clock, ms); a worker renews its users' claims while they are in flight and deletes them when done. A claim
  past its time is free; the hash itself expires a claim lifetime after its latest write, so the claims of a
  worker that died are gone by then, or overwritten when their users come again;
- ``user:{user}``: ``{attribute: [Komo time in ms, value digest]}`` of what was last accepted (JSON, one
  value per user), expiring ``user_retention_s`` after its latest write;
- ``accepted:{span}:{n}``: a set of the submission ids Braze accepted during the ``n``-th span of
  ``span`` ms (half of ``accepted_retention_s``), expiring the retention and one span after its latest
  write: an id is remembered for at least the retention and at most half as long again.
- ``probe``: written by a worker that checks Redis takes writes (at start, and every second while it is
  down), expiring after 10 s: a replica a failover left behind the URL answers ``PING`` but not that.

Claiming a batch is one Lua script (atomic: the claim, the attributes read under it, and the accepted ids
are one consistent view); recording is another. A worker records the accepted ids *before* it releases
the claims, so whoever claims the user next sees them.

Inside a script Redis spends ~1 us per value passed to or from a command, and more per command: a batch
of 37 users and 37 ids ran ~260 commands when each claim and each accepted id was a key of its own, ~50
now (the batch's claims are read and written with one command each; its accepted ids are written with one
``SADD`` and looked up with one ``SMISMEMBER`` per span, three spans). Measured on the local Redis 7.0:
claim ~390 -> ~300 us, record ~380 -> ~270 us of script time per batch with 12-attribute states (each
user's ``SET`` of its state is most of what is left).

The scripts take a batch's users and ids as one JSON array each and build the keys themselves, rather
than declaring one key per user and id: packing several hundred arguments was most of what a round trip
cost the worker. Declared keys would buy nothing here: a batch's keys span every hash slot, so no script
over them could run on Redis Cluster either way; the store wants one Redis (standalone, or a primary
that Sentinel or a managed service fails over).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence

import orjson

from worker.state import DEFAULT_TIMEOUT_S, Claims, UserState
from worker.state.link import RedisLink

#: how long the key a probe writes lives
PROBE_TTL_MS = 10_000
#: a flag in a script's answer: claimed, or accepted already (or not)
_YES, _NO = ord("1"), ord("0")
#: accepted ids are kept in sets of this many per retention (looked up in one more per batch)
_SPANS_PER_RETENTION = 2

# Shared by the scripts: Redis's clock in ms, and one command over a list of any length (Lua's unpack takes
# a few thousand values at most; the list is cut in parts, and the answers joined, where it is longer).
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function many(command, key, list)
  if #list <= 1000 then
    if key then return redis.call(command, key, unpack(list)) end
    return redis.call(command, unpack(list))
  end
  local out = {}
  for from = 1, #list, 1000 do
    local part = {unpack(list, from, math.min(from + 999, #list))}
    local answer
    if key then answer = redis.call(command, key, unpack(part)) else answer = redis.call(command, unpack(part)) end
    if type(answer) == 'table' then
      for k = 1, #answer do out[#out + 1] = answer[k] end
    end
  end
  return out
end
-- the users of ``list`` whose claim this owner holds (the others are not touched)
local function held(claims, list, mark)
  local mine = {}
  if #list == 0 then return mine end
  local holders = many('HMGET', claims, list)
  for i = 1, #list do
    local h = holders[i]
    if h and string.sub(h, 1, #mark) == mark then mine[#mine + 1] = list[i] end
  end
  return mine
end
-- claim ``list`` for ``mark`` (the owner and ':') until ``until_ms``; the hash lives as long as its latest claim
local function hold(claims, list, mark, until_ms, ttl)
  if #list == 0 then return end
  local fields, value = {}, mark .. until_ms
  for i = 1, #list do
    fields[#fields + 1] = list[i]
    fields[#fields + 1] = value
  end
  many('HSET', claims, fields)
  redis.call('PEXPIRE', claims, ttl)
end
"""

_CLAIM = (
    _PRELUDE
    + """
local base, mark, ttl = ARGV[1], ARGV[2] .. ':', tonumber(ARGV[3])
local users, ids = cjson.decode(ARGV[4]), cjson.decode(ARGV[5])
local span, retention = tonumber(ARGV[6]), tonumber(ARGV[7])
local now, claims = now_ms(), base .. 'claims'
local flags, mine, keys = {}, {}, {}
local holders = #users > 0 and many('HMGET', claims, users) or {}
for i = 1, #users do
  local h = holders[i]
  local free = not h or string.sub(h, 1, #mark) == mark
  if not free then
    free = tonumber(string.sub(h, string.find(h, ':', 1, true) + 1)) <= now
  end
  if free then
    flags[i] = '1'
    mine[#mine + 1] = users[i]
    keys[#keys + 1] = base .. 'user:' .. users[i]
  else
    flags[i] = '0'
  end
end
local seen = {}
if #mine > 0 then
  hold(claims, mine, mark, now + ttl, ttl)
  local states = many('MGET', nil, keys)
  for i = 1, #keys do seen[i] = states[i] or '{}' end
end
local accepted = {}
for j = 1, #ids do accepted[j] = '0' end
if #ids > 0 then
  for n = math.floor((now - retention) / span), math.floor(now / span) do
    local found = many('SMISMEMBER', base .. 'accepted:' .. span .. ':' .. n, ids)
    for j = 1, #ids do
      if found[j] == 1 then accepted[j] = '1' end
    end
  end
end
return {table.concat(flags), '[' .. table.concat(seen, ',') .. ']', table.concat(accepted)}
"""
)

# ARGV[8]: the users' states, one JSON object each, in the order of ARGV[7], separated by newlines (which
# compact JSON never holds)
_RECORD = (
    _PRELUDE
    + """
local base, mark, span, retention, user_ms = ARGV[1], ARGV[2] .. ':', tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local ids, users, states, release = cjson.decode(ARGV[6]), cjson.decode(ARGV[7]), ARGV[8], cjson.decode(ARGV[9])
if #ids > 0 then
  local set = base .. 'accepted:' .. span .. ':' .. math.floor(now_ms() / span)
  many('SADD', set, ids)
  redis.call('PEXPIRE', set, retention + span)
end
local from = 1
for i = 1, #users do
  local stop = string.find(states, '\\n', from, true) or #states + 1
  redis.call('SET', base .. 'user:' .. users[i], string.sub(states, from, stop - 1), 'PX', user_ms)
  from = stop + 1
end
local claims = base .. 'claims'
local mine = held(claims, release, mark)
if #mine > 0 then many('HDEL', claims, mine) end
return 0
"""
)

_RENEW = (
    _PRELUDE
    + """
local base, mark, ttl, users = ARGV[1], ARGV[2] .. ':', tonumber(ARGV[3]), cjson.decode(ARGV[4])
local claims = base .. 'claims'
hold(claims, held(claims, users, mark), mark, now_ms() + ttl, ttl)
return 0
"""
)

_RELEASE = (
    _PRELUDE
    + """
local base, mark, users = ARGV[1], ARGV[2] .. ':', cjson.decode(ARGV[3])
local claims = base .. 'claims'
local mine = held(claims, users, mark)
if #mine > 0 then many('HDEL', claims, mine) end
return 0
"""
)


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
        link: RedisLink | None = None,
    ) -> None:
        # ``link``: the worker's one connection, shared with its limiters (the worker closes it); else one of
        # the store's own. No retries inside: the fallback store decides what a failure means.
        self._own_link = link is None
        self._link = link or RedisLink(url, timeout_s=timeout_s)
        self._base = f"{prefix}:state:"
        self._accepted_retention_ms = max(1, int(accepted_retention_s * 1000))
        self._span_ms = max(1, math.ceil(self._accepted_retention_ms / _SPANS_PER_RETENTION))
        self._user_retention_ms = int(user_retention_s * 1000)
        self._claim_ttl_ms = max(1, int(claim_ttl_s * 1000))
        self._owner = owner or uuid.uuid4().hex
        if ":" in self._owner:
            raise ValueError("a store's owner token holds no ':' (it separates the owner from the time in a claim)")
        self._claim = self._link.script(_CLAIM)
        self._record = self._link.script(_RECORD)
        self._renew = self._link.script(_RENEW)
        self._release = self._link.script(_RELEASE)

    @property
    def shared(self) -> bool:
        return True

    async def ping(self) -> bool:
        """Whether this Redis answers and takes writes: a replica that a failover left behind the URL answers
        ``PING`` and refuses every script that writes."""
        return bool(await self._link.execute("SET", self._base + "probe", self._owner, "PX", PROBE_TTL_MS))

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        args: list[str | int | bytes] = [
            self._base,
            self._owner,
            self._claim_ttl_ms,
            orjson.dumps(users),
            orjson.dumps(submission_ids),
            self._span_ms,
            self._accepted_retention_ms,
        ]
        flags, seen_list, accepted_flags = await self._claim(args=args)
        # most answers: every user claimed, no id accepted before
        claimed = users if _NO not in flags else [u for u, flag in zip(users, flags, strict=True) if flag == _YES]
        seen: dict[str, UserState] = dict(zip(claimed, orjson.loads(seen_list), strict=True))
        accepted: frozenset[str] = frozenset()
        if _YES in accepted_flags:
            accepted = frozenset(i for i, flag in zip(submission_ids, accepted_flags, strict=True) if flag == _YES)
        return Claims(frozenset(claimed), accepted, seen)

    async def renew(self, users: Sequence[str]) -> None:
        if users:
            await self._renew(args=[self._base, self._owner, self._claim_ttl_ms, orjson.dumps(users)])

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        # the release comes last in the script: whoever claims the users next sees the writes
        states = b"\n".join(map(orjson.dumps, seen.values()))  # per attribute: its time, or [time, digest]
        args: list[str | int | bytes] = [
            self._base,
            self._owner,
            self._span_ms,
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

    async def close(self) -> None:
        if self._own_link:
            await self._link.close()
