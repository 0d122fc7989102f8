"""The producer: the webhook intake, its health routes and its publisher, started and stopped in order.

Start: check the bind is safe, start connecting to the broker in the background, then listen (so
``/healthz`` answers at once and ``/readyz`` turns ready when the broker does). Stop: stop accepting,
let requests in progress finish their publishes within the grace period, then close the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from komo_braze.http import add_health_routes, start_site
from komo_braze.logs import get_logger
from komo_braze.publishing import ConfirmPublisher
from komo_braze.settings import Settings
from producer.auth import Authenticator, check_bind
from producer.intake import SubmissionHandler, add_intake_routes
from producer.metrics import ProducerMetrics

log = get_logger(__name__)


class Producer:
    """One intake. Raises :class:`producer.auth.UnsafeBind` at construction when it would be open."""

    def __init__(self, settings: Settings, *, metrics: ProducerMetrics | None = None) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        check_bind(settings, self.authenticator)
        self.metrics = metrics or ProducerMetrics()
        self.publisher = ConfirmPublisher(settings, "producer")
        self.metrics.watch_ready(lambda: self.publisher.ready)
        self.app = web.Application(client_max_size=settings.max_body_bytes)
        handler = SubmissionHandler(
            self.publisher,
            self.authenticator,
            self.metrics,
            max_body_bytes=settings.max_body_bytes,
            retry_after_s=settings.reconnect_interval_s,
        )
        add_intake_routes(self.app, handler.handle)
        add_health_routes(self.app, lambda: self.publisher.ready, self.metrics.registry)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, port: int | None = None) -> int:
        """Listen on the configured bind (or ``port``, e.g. 0 in tests); returns the bound port."""
        bind = self.settings.producer_bind
        self.publisher.start()
        try:
            self._runner, self.port = await start_site(
                self.app,
                bind.host,
                bind.port if port is None else port,
                shutdown_timeout_s=self.settings.shutdown_grace_s,
            )
        except BaseException:
            await self.publisher.close()
            raise
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
        runner, self._runner = self._runner, None
        if runner is not None:
            log.info("stopping", component="producer", grace_s=self.settings.shutdown_grace_s)
            await runner.cleanup()
        await self.publisher.close()
        log.info("stopped", component="producer")


async def serve(
    settings: Settings,
    shutdown: asyncio.Event,
    *,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Run the producer until ``shutdown`` is set."""
    producer = Producer(settings)
    try:
        port = await producer.start()
        if on_started is not None:
            on_started(port)
        await shutdown.wait()
    finally:
        await producer.stop()
