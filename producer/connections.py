"""Slow and surplus clients: a header deadline and a cap on open connections, around aiohttp's protocol.

aiohttp has no header-read timeout (its keep-alive timeout, an hour by default, is the only limit on a
client that trickles its headers a byte a second or stops half way) and no connection limit. So each
connection's protocol is wrapped (asyncio's public protocol interface; aiohttp documents ``web.Server``
as a protocol factory for ``loop.create_server``):

- a connection must deliver its request headers within ``header_timeout_s`` of opening, and again after
  each response (an idle keep-alive connection is closed silently when it runs out; one that sent part
  of a request gets ``408`` first). The body has its own deadline in the handler (``408``);
- at most ``max_connections`` are open: one more evicts the connection that has waited longest for its
  headers, and when every connection is inside a request the newcomer gets ``503`` and is closed.

A request's headers are known complete when aiohttp dispatches it: :meth:`ConnectionGuard.middleware`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from komo_braze.failures import BindFailed
from komo_braze.logs import get_logger
from producer.memory import BurstTrimmer
from producer.metrics import ProducerMetrics

log = get_logger(__name__)

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
FULL = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_s: float
    max_connections: int


class GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard's deadline around it."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._admitted = False
        self.transport: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.bytes_waiting = 0  # received since the deadline was set: 0 means the connection is idle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self._guard.admit(self):
            transport.write(FULL)
            transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.bytes_waiting += len(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.forget(self)
        if self._admitted:
            self._inner.connection_lost(exc)

    def close(self, answer: bytes | None) -> None:
        """Close now, writing ``answer`` first (only between requests: no response is under way)."""
        if self.transport is not None and not self.transport.is_closing():
            if answer is not None:
                self.transport.write(answer)
            self.transport.close()


class ConnectionGuard:
    """The limits for every connection of one intake; wraps its protocol factory and adds a middleware."""

    def __init__(self, limits: ConnectionLimits, metrics: ProducerMetrics, trimmer: BurstTrimmer) -> None:
        self._limits = limits
        self._metrics = metrics
        self._trimmer = trimmer
        self._open: dict[asyncio.BaseTransport, GuardedConnection] = {}
        #: connections waiting for request headers, the one waiting longest first
        self._waiting: dict[GuardedConnection, None] = {}

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def waiting_for_headers(self) -> int:
        return len(self._waiting)

    def wrap(self, factory: Callable[[], Any]) -> Callable[[], GuardedConnection]:
        return lambda: GuardedConnection(factory(), self)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._open.get(request.transport) if request.transport is not None else None
        if connection is not None:
            self._stop_waiting(connection)
        try:
            return await handler(request)
        finally:
            if connection is not None and connection.transport is not None and not connection.transport.is_closing():
                self._start_waiting(connection)

    def admit(self, connection: GuardedConnection) -> bool:
        if len(self._open) >= self._limits.max_connections:
            if not self._waiting:
                self._metrics.connections_closed.labels(reason="over_capacity").inc()
                log.debug("connection_refused", reason="over_capacity", open=len(self._open))
                return False
            longest = next(iter(self._waiting))
            self._metrics.connections_closed.labels(reason="evicted").inc()
            log.debug("connection_evicted", open=len(self._open))
            self._drop(longest)
            longest.close(None)
        assert connection.transport is not None
        self._open[connection.transport] = connection
        self._start_waiting(connection)
        self._trimmer.observe(len(self._open))
        return True

    def forget(self, connection: GuardedConnection) -> None:
        self._drop(connection)
        self._trimmer.observe(len(self._open))

    def _drop(self, connection: GuardedConnection) -> None:
        self._stop_waiting(connection)
        if connection.transport is not None:
            self._open.pop(connection.transport, None)

    def _start_waiting(self, connection: GuardedConnection) -> None:
        self._stop_waiting(connection)
        connection.bytes_waiting = 0
        loop = asyncio.get_running_loop()
        connection.deadline = loop.call_later(self._limits.header_timeout_s, self._expire, connection)
        self._waiting[connection] = None

    def _stop_waiting(self, connection: GuardedConnection) -> None:
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None
        self._waiting.pop(connection, None)

    def _expire(self, connection: GuardedConnection) -> None:
        started = connection.bytes_waiting > 0
        reason = "header_timeout" if started else "idle"
        self._metrics.connections_closed.labels(reason=reason).inc()
        log.debug("connection_timed_out", reason=reason, bytes_received=connection.bytes_waiting)
        self._drop(connection)
        connection.close(TIMED_OUT if started else None)


async def start_guarded_site(
    app: web.Application, host: str, port: int, guard: ConnectionGuard, *, shutdown_timeout_s: float
) -> tuple[web.AppRunner, asyncio.Server, int]:
    """Serve ``app`` with every connection guarded; returns the runner, the listening server and its port.

    Stop with ``server.close()`` (stop accepting), then ``runner.cleanup()`` (finish requests in progress).
    """
    app.middlewares.append(guard.middleware)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    assert runner.server is not None
    try:
        server = await asyncio.get_running_loop().create_server(
            guard.wrap(runner.server), host, port, reuse_address=True
        )
    except OSError as exc:
        await runner.cleanup()
        raise BindFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(server.sockets[0].getsockname()[1]) if server.sockets else port
    return runner, server, bound_port
