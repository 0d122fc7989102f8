"""One workspace's rate limit, shared in Redis by every worker process (docs/decisions.md, "One rate limit
shared by all workers: GCRA in Redis").

Each request reserves its moment to start with one atomic Lua script (GCRA, the generic cell rate
algorithm): the key holds a *theoretical arrival time*; a reservation gets ``max(now, tat - tolerance)``
and pushes ``tat`` on by one emission interval (``window / (limit * 98%)``). The slot is taken before
sending and waited for after, so N processes together start at most the shared rate, with the time read
from Redis (one clock for every machine). A batch asks for its request's slot together with its claim
(:meth:`SharedLimiter.ask_ahead`, the same round trip); the request takes that answer, its wait counted
from when it came. A slot asked for and not used (the batch had nothing to send) is the next request's.

Braze's headers stay the truth (other clients may spend the same API key's budget): every reservation
returns a sequence number, and an answer to request ``n`` saying ``remaining = R`` until ``reset = E``
means that no grant after ``n + R`` (less a margin for requests still on their way) may start before
``E``. That *cap* travels with the next reservation of the process that saw it (no extra round trip);
after a 429 it is written at once, so every worker waits for the reset. A later window's cap replaces
an earlier one, so clocks a little apart never stall a window. A schedule that fell behind (a stall)
catches up: what the cap still allows, less the headroom, is spread over the time to the reset. Requests
of other clients of the key (:class:`OtherClients`) are taken off the cap for the grants already queued.

Redis unreachable or slow: :meth:`SharedLimiter.reserve` returns ``None`` at once (fail open), the caller
paces by its own process's headers, a log event and the ``shared_limit`` gauge say so, and Redis is
tried again after ``retry_s``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from komo_braze.logs import get_logger
from worker.metrics import WorkerMetrics
from worker.ratelimit_headers import RateLimitHeaders
from worker.state.link import RedisLink

log = get_logger(__name__)

#: Braze's documented /users/track limit, used until an answer's headers say otherwise
BRAZE_DEFAULT_RATE = (3000, 3.0)
#: the share of the limit left unspent: room for requests that start in one window and land in the next
HEADROOM_SHARE = 0.02
#: requests that may start together after an idle spell, as a share of the limit (at least 1)
BURST_SHARE = 0.01
#: grants the headers cannot see yet (sent before request n but answered after it), as a share of the limit
MARGIN_SHARE = 0.01
#: the script's modes
_TAKE, _CAP_ONLY, _RESUME = "1", "0", "2"
#: a Reset or Retry-After further away than this is not believed
_MAX_CAP_S = 3600.0
#: slots asked for ahead of their requests (with batches' claims) and not taken yet, at most
MAX_AHEAD = 16

# KEYS[1]: the workspace's hash. ARGV: interval_us, tolerance_us, cap_until_us (0: none), cap_seq,
# mode (1: reserve a slot, 0: only record the cap, 2: resume: drop the cap and the slots granted ahead),
# spare (grants of the headroom). Returns {seq, wait_us}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local s = redis.call('HMGET', KEYS[1], 'tat', 'seq', 'cap_until', 'cap_seq')
local tat, seq = tonumber(s[1]) or 0, tonumber(s[2]) or 0
local cap_until, cap_seq = tonumber(s[3]) or 0, tonumber(s[4]) or 0
local interval, tolerance, spare = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[6])
local new_until, new_seq = tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[5] == '2' then
  tat, cap_until, cap_seq = now, 0, 0
elseif new_until > now then
  if new_until > cap_until then
    cap_until, cap_seq = new_until, new_seq
  elseif new_until == cap_until then
    cap_seq = math.min(cap_seq, new_seq)
  end
end
local wait = 0
if ARGV[5] == '1' then
  seq = seq + 1
  tat = math.max(tat, now)
  local step = interval
  if cap_until > now then
    local budget = cap_seq - seq + 1  -- grants Braze still takes before cap_until, this one included
    if budget <= 0 then
      tat = math.max(tat, cap_until + tolerance)
    elseif tat < cap_until and budget > spare then
      -- behind (a stall): spread what is left, less the headroom, over the time left
      step = math.min(interval, (cap_until - tat) / (budget - spare))
    end
  end
  local slot = math.max(now, tat - tolerance)
  tat = tat + step
  wait = slot - now
end
redis.call('HSET', KEYS[1], 'tat', tat, 'seq', seq, 'cap_until', cap_until, 'cap_seq', cap_seq)
redis.call('PEXPIRE', KEYS[1], math.floor((math.max(tat, cap_until) - now) / 1000) + 60000)
return {seq, wait}
"""


class SharedLimiter:
    """Reservations against one workspace's shared budget.

    :param link: the worker's connection to Redis (its owner closes it)
    :param key: the Redis key, carrying the deployment's prefix and the workspace
    :param limit: requests per window until the headers tell
    :param window_s: the window until the headers show a shorter one
    :param timeout_s: the longest one round trip may take before the limiter fails open
    :param retry_s: how long a process paces by itself after Redis failed, before it tries again
    """

    def __init__(
        self,
        link: RedisLink,
        key: str,
        *,
        workspace: str,
        metrics: WorkerMetrics,
        limit: int = BRAZE_DEFAULT_RATE[0],
        window_s: float = BRAZE_DEFAULT_RATE[1],
        timeout_s: float = 0.5,
        retry_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.workspace = workspace
        self.limit = limit
        self.window_s = window_s
        self._script = link.script(_GCRA)
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._clock = clock
        self._gauge = metrics.shared_limit.labels(workspace)
        self._fallbacks = metrics.shared_limit_fallbacks.labels(workspace)
        self._down_until = -math.inf
        self._shared = True
        self._gauge.set(1)
        self._cap: tuple[int, int] | None = None  # (until_us, seq) learnt, not yet written
        self._last_reset_s: float | None = None
        self._others = OtherClients()
        self._lookahead_s = 0.0  # how far ahead of now the latest grant's slot was
        self._slot_at = -math.inf  # when the latest grant waiting for its slot may start (clock())
        self._resumed = asyncio.Event()  # set by resume(): the grants waiting now take new slots
        self._ahead: deque[_Ahead] = deque()  # slots asked for with a batch's claim, not taken yet

    @property
    def shared(self) -> bool:
        """Whether the latest reservation was made in Redis (else this process paces by itself)."""
        return self._shared

    def interval_s(self) -> float:
        return self.window_s / (self.limit * (1 - HEADROOM_SHARE))

    def burst(self) -> int:
        return max(1, math.floor(self.limit * BURST_SHARE))

    async def reserve(self) -> int | None:
        """Take the next slot and wait for it; returns the grant's sequence number for :meth:`learn`, or
        ``None`` when Redis did not answer (the caller paces by itself). A wait that :meth:`resume` ends
        takes a slot of the schedule as it is then."""
        while True:
            granted = await self.grant()
            if granted is None:
                return None
            seq, wait_s = granted
            if wait_s <= 0:
                return seq
            resumed = self._resumed
            self._slot_at = max(self._slot_at, self._clock() + wait_s)
            try:
                async with asyncio.timeout(wait_s):
                    await resumed.wait()
            except TimeoutError:
                return seq

    def blocked_for_s(self) -> float:
        """How long this process's latest grant still waits for its slot (0: none waits)."""
        return max(0.0, self._slot_at - self._clock())

    async def resume(self) -> None:
        """Braze took a request again while grants waited far ahead (an absurd Reset or Retry-After): drop
        the cap and the schedule in Redis, and let this process's waiting grants take new slots. Other
        processes' grants follow their own probe (:meth:`worker.gate.BrazeGate.pause_probe_loop`)."""
        self._cap = None
        self._ahead.clear()  # slots of the schedule dropped now
        self._slot_at = -math.inf
        self._resumed.set()
        self._resumed = asyncio.Event()
        if self._clock() >= self._down_until:
            await self._call(mode=_RESUME)

    def ask_ahead(self) -> None:
        """Ask for the next slot now, without waiting: the request goes in the round trip of what this process
        sends next (a batch's claim), and the next :meth:`grant` takes its answer rather than asking. A slot
        asked for and not used (the batch had nothing to send) is the next request's."""
        if len(self._ahead) >= MAX_AHEAD or self._clock() < self._down_until:
            return
        args, cap = self._args(_TAKE)
        try:
            answer = self._script.submit(keys=[self.key], args=args)
        except RedisError:  # the link is closed: the worker is stopping
            return
        ahead = _Ahead(answer, cap)
        answer.add_done_callback(lambda done: ahead.arrived(self._clock(), done))
        self._ahead.append(ahead)

    async def grant(self) -> tuple[int, float] | None:
        """Take the next slot: its sequence number and how long until it starts (``None``: fail open)."""
        result = None
        if self._clock() >= self._down_until:
            result = await self._take_ahead() if self._ahead else None
            if result is None and self._clock() >= self._down_until:
                result = await self._call(mode=_TAKE)
        if result is None:
            self._fallbacks.inc()
            return None
        seq, wait_us = result
        self._lookahead_s = max(0, wait_us) / 1e6
        return seq, wait_us / 1e6

    async def _take_ahead(self) -> tuple[int, int] | None:
        """The oldest slot asked for ahead that is still good, its wait counted from its answer; ``None``: none
        left, or Redis failed. A slot long past (its batch had nothing to send, and later batches asked for
        their own) is dropped: used now, it would start on top of the slots of the window it lands in, and
        several of them at once would overrun that window's budget."""
        late_us = round(max(self.interval_s(), self.interval_s() * (self.burst() - 1)) * 1e6)
        while self._ahead:
            ahead = self._ahead.popleft()
            result = await self._finish(ahead.answer, ahead.cap)
            if result is None:
                return None
            seq, wait_us = result
            if ahead.at is not None:
                wait_us -= round((self._clock() - ahead.at) * 1e6)
            if wait_us >= -late_us:
                return seq, wait_us
        return None

    async def learn(self, seq: int | None, headers: RateLimitHeaders, *, refused: bool = False) -> None:
        """Take in an answer's headers: the limit and window, and the budget left after grant ``seq``.

        The budget travels with the next reservation; after a 429 (``refused``) it is written at once."""
        if headers.limit is not None and headers.limit > 0:
            self.limit = headers.limit
        reset_s = headers.reset_epoch_s
        if reset_s is not None:
            if self._last_reset_s is not None and 0 < reset_s - self._last_reset_s < self.window_s:
                self.window_s = reset_s - self._last_reset_s  # consecutive windows: the real length
            self._last_reset_s = max(reset_s, self._last_reset_s or reset_s)
        until_s = reset_s
        if refused and headers.retry_after_s is not None:
            until_s = time.time() + headers.retry_after_s
        remaining = 0 if refused else headers.remaining
        if seq is None or until_s is None or remaining is None or not 0 < until_s - time.time() <= _MAX_CAP_S:
            return
        if not refused and reset_s is not None:
            self._others.observe(seq, remaining, reset_s, time.time())
        # the grants already queued start later: the other clients' requests until then count too
        others = math.ceil(self._others.per_s * self._lookahead_s)
        self._merge_cap(round(until_s * 1e6), seq + remaining - self._margin() - others)
        if refused and self._clock() >= self._down_until:
            await self._call(mode=_CAP_ONLY)

    def _margin(self) -> int:
        return max(2, math.ceil(self.limit * MARGIN_SHARE))

    def _merge_cap(self, until_us: int, seq: int) -> None:
        """The same rule as the script: a later window's cap replaces, the same window's lowest wins."""
        if self._cap is None or until_us > self._cap[0]:
            self._cap = (until_us, seq)
        elif until_us == self._cap[0]:
            self._cap = (until_us, min(seq, self._cap[1]))

    def _args(self, mode: str) -> tuple[list[int | str], tuple[int, int] | None]:
        """The script's arguments, and the cap they carry."""
        cap = self._cap
        cap_until_us, cap_seq = cap or (0, 0)
        interval_us = round(self.interval_s() * 1e6)
        spare = max(0, math.ceil(self.limit * HEADROOM_SHARE) - self._margin())  # the cap has the margin off
        return [interval_us, interval_us * (self.burst() - 1), cap_until_us, cap_seq, mode, spare], cap

    async def _call(self, *, mode: str) -> tuple[int, int] | None:
        args, cap = self._args(mode)
        try:
            answer = self._script.submit(keys=[self.key], args=args)
        except RedisError as exc:
            self._fail_open(exc)
            return None
        return await self._finish(answer, cap)

    async def _finish(self, answer: asyncio.Future[Any], cap: tuple[int, int] | None) -> tuple[int, int] | None:
        """The script's answer within the timeout, or ``None`` (fail open); the cap it carried is written."""
        try:
            async with asyncio.timeout(self._timeout_s):
                seq, wait_us = await answer
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, TimeoutError) as exc:
            self._fail_open(exc)
            return None
        if self._cap == cap:  # a cap learnt since goes with the next call
            self._cap = None
        if not self._shared:
            self._shared = True
            self._gauge.set(1)
            log.info("shared_limit_restored", workspace=self.workspace)
        return int(seq), int(wait_us)

    def _fail_open(self, exc: BaseException) -> None:
        self._down_until = self._clock() + self._retry_s
        if self._shared:
            self._shared = False
            self._gauge.set(0)
            log.warning(
                "shared_limit_unavailable",
                workspace=self.workspace,
                error=type(exc).__name__,
                retry_s=self._retry_s,
                hint="pacing by this process's rate-limit headers until Redis answers",
            )


@dataclass(slots=True)
class _Ahead:
    """A slot asked for ahead of its request (:meth:`SharedLimiter.ask_ahead`)."""

    answer: asyncio.Future[Any]
    cap: tuple[int, int] | None  # the cap the call carried
    at: float | None = None  # when the answer came (clock())

    def arrived(self, now: float, answer: asyncio.Future[Any]) -> None:
        self.at = now
        if not answer.cancelled():
            answer.exception()  # taken or not, a failure is not "never retrieved"


class OtherClients:
    """The rate at which requests nobody here granted (other clients of the same API key) reach Braze.

    Between the first answer of a window and a later one, Braze counted ``remaining_first - remaining``
    requests, of which ``seq - seq_first`` were granted here (the sequence is global): the rest came from
    elsewhere. Measured over at least ``_MIN_SPAN_S``, so that answers out of order weigh little.
    """

    _MIN_SPAN_S = 0.25

    def __init__(self) -> None:
        self.per_s = 0.0
        self._first: tuple[int, int, float, float] | None = None  # seq, remaining, reset, when

    def observe(self, seq: int, remaining: int, reset_s: float, at_s: float) -> None:
        first = self._first
        if first is None or reset_s > first[2]:
            self._first = (seq, remaining, reset_s, at_s)
            return
        if reset_s == first[2] and seq > first[0] and at_s - first[3] >= self._MIN_SPAN_S:
            others = max(0, (first[1] - remaining) - (seq - first[0]))
            self.per_s = others / (at_s - first[3])
