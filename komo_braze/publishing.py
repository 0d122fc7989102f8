"""Publishing with confirms over one shared robust connection.

One :class:`ConfirmPublisher` owns one robust connection and one confirm channel. Any number of
coroutines publish through it at once: aiormq pipelines confirms by delivery tag, so nothing here
serialises publishes. Every publish is ``mandatory`` (an unroutable message is an error, not a silent
drop) and bounded by ``publish_timeout_s``. While the broker is away, :meth:`ConfirmPublisher.publish`
fails at once with :class:`BrokerUnavailable` instead of waiting for the reconnection.

Used by the HTTP intake, by ``komo-braze publish`` and by anything else that must know a message is
on the broker before it answers (``dlq import``).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import aio_pika
from aio_pika.abc import DeliveryMode

from komo_braze import topology
from komo_braze.addresses import redact
from komo_braze.amqp import FailoverConnection, connect
from komo_braze.confirm_channel import ConfirmChannel
from komo_braze.envelope import Envelope
from komo_braze.failures import BrokerUnreachable
from komo_braze.logs import error_fields, get_logger
from komo_braze.publish_errors import BrokerUnavailable, publish_errors
from komo_braze.settings import Settings

log = get_logger(__name__)

CONTENT_TYPE = "application/json"


def _log_interrupted(exc: BaseException) -> None:
    log.warning("publish_interrupted", **error_fields(exc))


def envelope_message(envelope: Envelope, *, timestamp: datetime | None = None) -> aio_pika.Message:
    """The AMQP message for an envelope, with the properties docs/architecture.md names ("The envelope")."""
    return aio_pika.Message(
        envelope.encode(),
        message_id=envelope.submission_id,
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        timestamp=timestamp or envelope.received_at,
    )


class ConfirmPublisher:
    """A shared publisher with confirms; :meth:`start` it once, :meth:`close` it at the end.

    ``exchange_name`` defaults to the submissions exchange of the settings' prefix. The topology is
    declared on every (re)connection, so the first publish after a broker restart finds it.
    """

    def __init__(self, settings: Settings, name: str, *, exchange_name: str | None = None) -> None:
        self._settings = settings
        self._name = name
        self._exchange_name = exchange_name or topology.Names(settings.prefix).exchange
        self._connection: FailoverConnection | None = None
        self._confirms: ConfirmChannel | None = None  # a fresh channel after a nack (its docstring says why)
        self._connector: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def ready(self) -> bool:
        """True while a publish can reach the broker now."""
        connection, confirms = self._connection, self._confirms
        if connection is None or confirms is None:
            return False
        return connection.connected.is_set() and not connection.is_closed and not confirms.channel.is_closed

    def start(self) -> None:
        """Start connecting in the background; the first attempts may fail, later ones keep trying."""
        if self._connector is None:
            self._connector = asyncio.create_task(self._connect_until_done(), name=f"{self._name}-connect")

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` until a publish can reach the broker; returns whether it can."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
                while not self.ready and self._confirms is not None:
                    await self._confirms.channel.ready()  # the robust channel: reconnected and restored
                    await asyncio.sleep(0.05)
        return self.ready

    async def wait_ready_or_fail(self, timeout_s: float) -> None:
        """:meth:`wait_ready`, for a command that cannot go on without the broker: raises
        :class:`komo_braze.failures.BrokerUnreachable` when it is not there in time."""
        if not await self.wait_ready(timeout_s):
            url = redact(self._settings.amqp_urls)
            raise BrokerUnreachable(f"broker {url} unreachable: no connection within {timeout_s:.0f} s")

    async def publish(self, message: aio_pika.Message, routing_key: str) -> None:
        """Publish and wait for the broker's confirm; raises a :class:`komo_braze.publish_errors.PublishFailed`."""
        confirms = self._confirms
        if confirms is None or not self.ready:
            raise BrokerUnavailable("broker unavailable")
        timeout_s = self._settings.publish_timeout_s
        # after a nack the confirm channel opens a fresh channel by itself
        with publish_errors(routing_key, timeout_s, on_lost=_log_interrupted):
            async with asyncio.timeout(timeout_s):
                await confirms.publish(message, routing_key)

    async def publish_envelope(self, envelope: Envelope) -> None:
        await self.publish(envelope_message(envelope), envelope.routing_key)

    async def close(self) -> None:
        """Stop connecting and close the connection (publishes still in flight fail)."""
        confirms, self._confirms = self._confirms, None
        if confirms is not None:
            confirms.stop()
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
            self._connector = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await connection.close()

    async def _connect_until_done(self) -> None:
        """Retry the first connection until it works; the robust connection handles later losses."""
        url = redact(self._settings.amqp_urls)
        while True:
            try:
                connection = await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broker_connect_failed",
                    broker=url,
                    **error_fields(exc, self._settings.amqp_urls),
                    retry_in_s=self._settings.reconnect_interval_s,
                )
                await asyncio.sleep(self._settings.reconnect_interval_s)
                continue
            log.info("broker_connected", broker=connection.address, exchange=self._exchange_name)
            self._connected.set()
            return

    async def _connect_once(self) -> FailoverConnection:
        async with asyncio.timeout(max(10.0, self._settings.publish_timeout_s)):
            connection = await connect(self._settings, self._name)
        try:
            async with asyncio.timeout(max(10.0, self._settings.publish_timeout_s)):
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                await topology.declare(
                    channel,
                    self._settings.prefix,
                    delivery_limit=self._settings.delivery_limit,
                    replicas=self._settings.quorum_replicas,
                )
                exchange = await channel.get_exchange(self._exchange_name)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        self._connection = connection
        self._confirms = ConfirmChannel(
            connection,
            channel,
            exchange,
            name=self._name,
            timeout_s=self._settings.publish_timeout_s,
            renew_interval_s=self._settings.reconnect_interval_s,
        )
        return connection
