"""One connection to Redis for a worker process, on which what is asked together is sent together.

Each batch talks to Redis up to three times (its claim, its request's slot in the shared limit, its record),
and a worker has several batches under way. A round trip costs the worker about the same CPU whether it
carries one command or several (measured with redis-py 8.1 on a 2-core machine: ~120 us through a client's
pool, ~95 us on a connection of its own, ~125 us for three commands in one write), so the link works like a
database's group commit: the first call goes at once, and every call made while a round trip is on its way
is sent with the next one, in one write, its answers read in order. No call waits for a timer: a record
that waited up to 20 ms for the next claim to ride with held its users' claims that much longer, and in the
order scenario (4 workers on one user's five updates) the waits this caused elsewhere cost more than the
round trips saved (10,106 -> 8,743 msg/s). A caller that wants two calls in one round trip submits both
before it waits (:meth:`RedisLink.submit`): a batch's claim and its request's slot in the shared limit.

Scripts are called by their SHA1 (``EVALSHA``); one that Redis does not know (a restart, ``SCRIPT FLUSH``) is
loaded and its call sent again, once. A ``READONLY`` answer means a failover made the server this connection
reaches a replica: the connection is dropped and the refused calls are sent again, once, on a new one, which
reaches whichever server the URL names now (a managed Redis's endpoint, or a name that follows Sentinel).
Any other error answer fails its own call only. No answer within the timeout (one deadline for all the
answers of a round trip), or a broken connection, fails every call of that round trip and drops the
connection (answers still on their way would reach the wrong callers); the next round trip opens a new one.
A caller that stops waiting (its own timeout) leaves its answer to be read and dropped: the order of the
others is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from komo_braze.addresses import SENTINEL_SCHEME, parse_sentinel_url

Arg = str | bytes | int | float


class LinkScript:
    """A Lua script called through a :class:`RedisLink`, the way redis-py's registered scripts are called."""

    def __init__(self, link: RedisLink, text: str) -> None:
        self.link = link
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()  # what Redis names it by

    async def __call__(self, keys: Sequence[Arg] = (), args: Sequence[Arg] = ()) -> Any:
        return await self.submit(keys, args)

    def submit(self, keys: Sequence[Arg] = (), args: Sequence[Arg] = ()) -> asyncio.Future[Any]:
        """Queue the call and return its answer's future, without waiting (see :meth:`RedisLink.submit`)."""
        return self.link.submit(("EVALSHA", self.sha, len(keys), *keys, *args), self)


@dataclass(slots=True)
class _Call:
    command: tuple[Arg, ...]
    script: LinkScript | None
    future: asyncio.Future[Any]
    loaded: bool = field(default=False)  # its script was loaded once already: no second try
    moved: bool = field(default=False)  # a demoted primary refused it once already: no second try


class RedisLink:
    """Calls to one Redis (``redis://`` or ``rediss://`` URL, with its password and database), grouped per
    round trip. ``round_trips`` and ``calls`` count what was sent."""

    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._pool, self._sentinel = _pool_for(url, timeout_s)
        self._connection: AbstractConnection | None = None
        self._queue: list[_Call] = []
        self._in_flight: list[_Call] = []
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self.round_trips = 0
        self.calls = 0

    def script(self, text: str) -> LinkScript:
        return LinkScript(self, text)

    async def execute(self, *command: Arg) -> Any:
        """One command (``PING``, ``SCRIPT FLUSH``), in the next round trip."""
        return await self.submit(command, None)

    def submit(self, command: tuple[Arg, ...], script: LinkScript | None) -> asyncio.Future[Any]:
        """Queue ``command`` for the next round trip and return the future of its answer: calls submitted before
        the caller waits go together."""
        if self._closed:
            raise RedisConnectionError("the Redis link is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Call(command, script, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued())
        return future

    async def _send_queued(self) -> None:
        try:
            while self._queue:
                calls = [call for call in self._queue if not call.future.done()]  # a caller may have given up
                self._queue = []
                if not calls:
                    continue
                self._in_flight = calls
                try:
                    await self._round_trip(calls)
                except Exception as exc:  # no answer: the round trip's calls fail, and the connection goes
                    await self._drop()
                    for call in calls:
                        _settle(call, exc)
        finally:
            self._in_flight = []
            self._sender = None

    async def _round_trip(self, calls: list[_Call]) -> None:
        self.round_trips += 1
        self.calls += len(calls)
        reused = self._connection is not None
        try:
            again = await self._exchange(await self._connect(), calls)
        except RedisConnectionError:
            await self._drop()
            if not reused:
                raise
            # closed while idle (Redis restarted, or a proxy timed it out): once more on a new connection;
            # every command sent here may run twice (claims and records are idempotent, a slot taken twice
            # is only a slot)
            self.round_trips += 1
            again = await self._exchange(await self._connect(), [c for c in calls if not c.future.done()])
        self._queue[:0] = again  # first in the next round trip

    async def _exchange(self, connection: AbstractConnection, calls: list[_Call]) -> list[_Call]:
        """Send ``calls`` in one write and settle each by its answer; returns those to send again: a script Redis
        did not know (loaded now), or a write refused by a primary that a failover turned into a replica (the
        connection is dropped then: the next one reaches whichever server the URL names now)."""
        unknown: list[_Call] = []
        refused: list[_Call] = []
        demoted = False
        await connection.send_packed_command(connection.pack_commands([c.command for c in calls]), check_health=False)
        async with self._deadline():
            for call in calls:
                try:
                    answer = await connection.read_response(timeout=math.inf)
                except NoScriptError as exc:
                    if call.script is None or call.loaded:
                        _settle(call, exc)
                    else:
                        unknown.append(call)
                    continue
                except ReadOnlyError as exc:
                    demoted = True
                    if call.moved:
                        _settle(call, exc)
                    else:
                        refused.append(call)
                    continue
                except ResponseError as exc:  # an error answer is its call's alone
                    _settle(call, exc)
                    continue
                _settle(call, answer)
        if demoted:  # what the next connection does not know, it says (NOSCRIPT) and is loaded there
            await self._drop()
            for call in refused:
                call.moved = True
        elif unknown:
            await self._load(connection, {call.script.sha: call.script for call in unknown if call.script})
            for call in unknown:
                call.loaded = True
        if not (refused or unknown):
            return []
        again = {id(call) for call in (*refused, *unknown)}
        return [call for call in calls if id(call) in again]  # in the order they were asked

    async def _load(self, connection: AbstractConnection, scripts: dict[str, LinkScript]) -> None:
        self.round_trips += 1
        await connection.send_packed_command(
            connection.pack_commands([("SCRIPT", "LOAD", s.text) for s in scripts.values()]), check_health=False
        )
        async with self._deadline():
            for _ in scripts:
                await connection.read_response(timeout=math.inf)

    @contextlib.asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        """The answers of one round trip, read within the timeout together: one timer per round trip, where
        redis-py would start one per answer (a tenth of what a round trip cost the worker)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except TimeoutError as exc:
            raise RedisTimeoutError(f"no answer from Redis within {self._timeout_s} s") from exc

    async def _connect(self) -> AbstractConnection:
        if self._connection is None:
            connection = self._pool.make_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            try:
                await connection.connect()
            except BaseException:
                await connection.disconnect()
                raise
            self._connection = connection
        return self._connection

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect(nowait=True)

    async def close(self) -> None:
        self._closed = True
        waiting, self._queue = [*self._in_flight, *self._queue], []
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        for call in waiting:
            _settle(call, RedisConnectionError("the Redis link is closed"))
        await self._drop()
        await self._pool.aclose()
        for sentinel in self._sentinel.sentinels if self._sentinel is not None else ():
            await sentinel.aclose()


def _pool_for(url: str, timeout_s: float) -> tuple[ConnectionPool, Sentinel | None]:
    """What connections are made from: redis-py's reading of ``url``, or, for ``redis+sentinel://``, the primary
    the sentinels name at each connection (after a failover, the next connection is the new primary's; the
    credentials are the primary's, ``?sentinel_password=`` the sentinels'), with the sentinels to close."""
    timeouts = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        return ConnectionPool.from_url(url, **timeouts), None
    address = parse_sentinel_url(url)
    asking = {**timeouts, "password": address.sentinel_password}
    sentinel = Sentinel(address.sentinels, sentinel_kwargs=asking)  # type: ignore[no-untyped-call]
    pool = SentinelConnectionPool(  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        address.service,
        sentinel,
        username=address.username,
        password=address.password,
        db=address.db,
        **timeouts,
    )
    return pool, sentinel


def _settle(call: _Call, answer: Any) -> None:
    if call.future.done():
        return
    if isinstance(answer, BaseException):
        call.future.set_exception(answer)
    else:
        call.future.set_result(answer)
