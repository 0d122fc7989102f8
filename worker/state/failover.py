"""Shared mode while Redis answers, per-process mode while it does not: a store failure never loses a message.

:class:`FailoverStore` sends every call to the Redis store within ``timeout_s``. A claim that fails makes
the batch wait and try again (order is not given up for one slow answer on a busy machine); a record is
tried again. ``FAILURES_TO_DOWN`` failures in a row mark the store down (log event ``state_store_down``,
gauge ``state_store_up`` 0): calls are then answered by the in-process store, until a probe every
``probe_interval_s`` finds Redis answering again (``state_store_up``). Accepted ids are always written
to the in-process store as well, so a copy redelivered to this process is still recognised while Redis
is down.

What per-process mode gives up (see README, "The state store"): order, duplicate detection and skipping
unchanged attributes hold within this process only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from komo_braze.logs import get_logger
from worker.state import Claims, UserState
from worker.state.memory import MemoryStore
from worker.state.redis import RedisStore

log = get_logger(__name__)

T = TypeVar("T")

PROBE_INTERVAL_S = 1.0
#: failed calls in a row after which the store counts as down (fewer: the batch waits and tries again)
FAILURES_TO_DOWN = 3


class FailoverStore:
    def __init__(
        self,
        primary: RedisStore,
        fallback: MemoryStore,
        *,
        timeout_s: float,
        on_change: Callable[[bool], None] | None = None,
        probe_interval_s: float = PROBE_INTERVAL_S,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._timeout_s = timeout_s
        self._on_change = on_change
        self._probe_interval_s = probe_interval_s
        self._up = True
        self._failures = 0
        if on_change is not None:
            on_change(True)

    @property
    def shared(self) -> bool:
        return self._up

    async def _call(self, what: str, call: Callable[[], Awaitable[T]], *, attempts: int = 1) -> T | None:
        """The primary's answer, or None when it is down or did not answer (``attempts`` tries, each
        within the timeout). A busy machine can delay one answer: only ``FAILURES_TO_DOWN`` failures in a
        row mean the store is down."""
        for _ in range(attempts):
            if not self._up:
                return None
            try:
                async with asyncio.timeout(self._timeout_s):
                    result = await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                if self._failures >= FAILURES_TO_DOWN:
                    self._set(up=False, during=what, error=type(exc).__name__)
                else:
                    log.warning("state_store_slow", during=what, error=type(exc).__name__, failures=self._failures)
                continue
            self._failures = 0
            return result
        return None

    def _set(self, *, up: bool, during: str = "", error: str = "") -> None:
        if up == self._up:
            return
        self._up = up
        if up:
            log.warning("state_store_up", mode="shared")
        else:
            log.error("state_store_down", mode="per_process", during=during, error=error)
        if self._on_change is not None:
            self._on_change(up)

    async def claim(self, users: Sequence[str], submission_ids: Sequence[str]) -> Claims:
        claims = await self._call("claim", lambda: self._primary.claim(users, submission_ids))
        if claims is None and self._up:  # no answer this time: every user waits and is tried again
            return Claims(frozenset(), frozenset(), {})
        if claims is None:
            return await self._fallback.claim(users, submission_ids)
        return Claims(claims.users, claims.accepted_ids | self._fallback.accepted_among(submission_ids), claims.seen)

    async def renew(self, users: Sequence[str]) -> None:
        await self._call("renew", lambda: self._primary.renew(users))
        await self._fallback.renew(users)

    async def record(
        self, submission_ids: Sequence[str], seen: Mapping[str, UserState], release: Sequence[str]
    ) -> None:
        # accepted ids are kept here in any case (a copy redelivered to this process while Redis is down is
        # still recognised); users' attributes only while Redis is down: they are Redis's to keep
        await self._fallback.record(submission_ids, {} if self._up else seen, release)
        # Braze has accepted these: try until written or the store is down (the writes are idempotent)
        await self._call(
            "record", lambda: self._primary.record(submission_ids, seen, release), attempts=FAILURES_TO_DOWN
        )

    async def release(self, users: Sequence[str]) -> None:
        await self._fallback.release(users)
        await self._call("release", lambda: self._primary.release(users))  # unreleased claims lapse by TTL

    async def start(self) -> None:
        """Find out whether Redis answers now (else start in per-process mode, and say so)."""
        await self._call("start", self._primary.ping, attempts=FAILURES_TO_DOWN)

    async def watch(self) -> None:
        """Probe Redis while it is down, and return to shared mode when it answers (runs until cancelled)."""
        while True:
            await asyncio.sleep(self._probe_interval_s)
            if self._up:
                continue
            try:
                async with asyncio.timeout(self._timeout_s):
                    await self._primary.ping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # still down: the next probe tries again
                log.debug("state_store_probe_failed", error=type(exc).__name__)
                continue
            self._failures = 0
            self._set(up=True)

    async def close(self) -> None:
        await self._primary.close()
        await self._fallback.close()
