"""The producer: the webhook intake, its health routes and its publisher, started and stopped in order.

Start: check the bind is safe, listen, then start connecting to the broker in the background (so
``/healthz`` answers at once, ``/readyz`` turns ready when the broker does, and a busy port stops the
process before it connects). Stop: stop accepting, let requests in progress finish their publishes
within the grace period, then close the connection.

With ``KOMO_BRAZE_PRODUCER_ADMIN_BIND`` set, ``/readyz`` and ``/metrics`` are served there only, and the
intake port keeps ``POST /v1/submissions`` and ``/healthz``; unset, they share the intake port behind the
intake's credentials (``producer.auth``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from komo_braze.http import ADMIN_PATHS, add_health_routes, add_liveness_route, start_site
from komo_braze.logs import get_logger
from komo_braze.publishing import ConfirmPublisher
from komo_braze.settings import Settings
from producer.auth import Authenticator, check_bind, guard_paths
from producer.connections import ConnectionGuard, ConnectionLimits, start_guarded_site
from producer.intake import SubmissionHandler, add_intake_routes
from producer.memory import BurstTrimmer
from producer.metrics import ProducerMetrics
from producer.replay import ReplayGuard

log = get_logger(__name__)


class Producer:
    """One intake. Raises :class:`producer.auth.UnsafeBind` at construction when it would be open."""

    def __init__(self, settings: Settings, *, metrics: ProducerMetrics | None = None) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        check_bind(settings, self.authenticator)
        self.metrics = metrics or ProducerMetrics()
        self.publisher = ConfirmPublisher(settings, "producer")
        self.metrics.watch_ready(self._ready)
        if settings.producer_admin_bind is None:
            middlewares = [guard_paths(self.authenticator, ADMIN_PATHS)] if self.authenticator.enabled else []
            self.app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
            add_health_routes(self.app, self._ready, self.metrics.registry)
            self.admin_app: web.Application | None = None
        else:
            self.app = web.Application(client_max_size=settings.max_body_bytes)
            add_liveness_route(self.app)
            self.admin_app = web.Application()
            add_health_routes(self.admin_app, self._ready, self.metrics.registry)
        handler = SubmissionHandler(
            self.publisher,
            self.authenticator,
            self.metrics,
            replays=ReplayGuard(
                settings.webhook_timestamp_tolerance_s, require_timestamp=settings.webhook_require_timestamp
            ),
            max_body_bytes=settings.max_body_bytes,
            body_timeout_s=settings.producer_body_timeout_s,
            retry_after_s=settings.reconnect_interval_s,
        )
        add_intake_routes(self.app, handler.handle)
        self.connections = ConnectionGuard(
            ConnectionLimits(settings.producer_header_timeout_s, settings.producer_max_connections),
            self.metrics,
            BurstTrimmer(enabled=settings.producer_trim_memory),
        )
        self.metrics.open_connections.set_function(lambda: float(self.connections.open_connections))
        self._runners: list[web.AppRunner] = []
        self._server: asyncio.Server | None = None
        self.port: int | None = None
        self.admin_port: int | None = None

    def _ready(self) -> bool:
        return self.publisher.ready

    async def start(self, port: int | None = None, admin_port: int | None = None) -> int:
        """Listen on the configured binds (or ``port``/``admin_port``, e.g. 0 in tests); returns the intake port."""
        bind = self.settings.producer_bind
        admin_bind = self.settings.producer_admin_bind
        # listen first: a busy port fails before any broker connection exists (one to cancel mid-connect
        # could go on reconnecting in aio-pika after the process meant to stop)
        try:
            if self.admin_app is not None and admin_bind is not None:
                runner, self.admin_port = await start_site(
                    self.admin_app, admin_bind.host, admin_bind.port if admin_port is None else admin_port
                )
                self._runners.append(runner)
                log.info("admin_listening", component="producer", host=admin_bind.host, port=self.admin_port)
            runner, self._server, self.port = await start_guarded_site(
                self.app,
                bind.host,
                bind.port if port is None else port,
                self.connections,
                shutdown_timeout_s=self.settings.shutdown_grace_s,
            )
            self._runners.append(runner)
        except BaseException:
            await self._stop_listening()
            raise
        self.publisher.start()
        log.info(
            "listening",
            component="producer",
            host=bind.host,
            port=self.port,
            auth=self.authenticator.mode,
            prefix=self.settings.prefix,
        )
        if not self.authenticator.enabled:
            log.warning(
                "intake_unauthenticated",
                host=bind.host,
                detail="no webhook token or HMAC secret is set: accepting any request, on a loopback bind only",
            )
        return self.port

    async def stop(self) -> None:
        """Stop accepting, finish requests in progress (within the grace period), then disconnect."""
        if self._runners:
            log.info("stopping", component="producer", grace_s=self.settings.shutdown_grace_s)
        await self._stop_listening()
        await self.publisher.close()
        log.info("stopped", component="producer")

    async def _stop_listening(self) -> None:
        # the intake first (it was started last), the admin routes after it
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stop accepting; requests in progress finish in the runner's cleanup
        while self._runners:
            await self._runners.pop().cleanup()
        if server is not None:
            await server.wait_closed()


async def serve(
    settings: Settings,
    shutdown: asyncio.Event,
    *,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Run the producer until ``shutdown`` is set."""
    producer = Producer(settings)
    port = await producer.start()  # raises BindFailed with nothing started
    try:
        if on_started is not None:
            on_started(port)
        await shutdown.wait()
    finally:
        await producer.stop()
