"""Broker connections: a robust aio-pika connection that reconnects by itself, and says so in the logs."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection

from komo_braze.failures import BrokerUnreachable
from komo_braze.logs import get_logger
from komo_braze.settings import Settings

log = get_logger(__name__)

#: what a connection attempt raises when the broker is away or refuses us
CONNECT_ERRORS = (aio_pika.exceptions.AMQPConnectionError, ConnectionError, OSError, TimeoutError)


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def unreachable(settings: Settings, error: BaseException) -> BrokerUnreachable:
    """The one-line failure for a broker that did not let us in (no password in it)."""
    reason = str(error) or type(error).__name__
    password = urlsplit(settings.amqp_url_str).password
    if password:
        reason = reason.replace(password, "***")
    return BrokerUnreachable(f"broker {redact_url(settings.amqp_url_str)} unreachable: {reason[:200]}")


async def connect(settings: Settings, name: str) -> AbstractRobustConnection:
    """A robust connection named ``name`` (shown by ``rabbitmqctl list_connections``).

    The first attempt either succeeds or raises :class:`BrokerUnreachable`; later losses are
    reconnected by aio-pika and logged as ``broker_connection_lost`` / ``broker_connection_restored``.
    """
    try:
        connection = await aio_pika.connect_robust(
            settings.amqp_url_str,
            client_properties={"connection_name": f"komo-braze {name}"},
            reconnect_interval=settings.reconnect_interval_s,
            fail_fast="true",
        )
    except CONNECT_ERRORS as exc:
        raise unreachable(settings, exc) from exc
    watch = _ConnectionWatch(connection, name, redact_url(settings.amqp_url_str))
    connection.close_callbacks.add(watch.closed)
    connection.reconnect_callbacks.add(watch.reconnected)
    return connection


class _ConnectionWatch:
    """Logs a robust connection's losses and returns, once per outage (each failed reconnection
    attempt closes the connection again)."""

    def __init__(self, connection: AbstractRobustConnection, name: str, broker: str) -> None:
        self._connection = connection
        self._name = name
        self._broker = broker
        self._up = True

    def closed(self, _sender: object, error: BaseException | None = None) -> None:
        if self._connection.is_closed or error is None or isinstance(error, asyncio.CancelledError):
            return  # closed by us
        if self._up:
            self._up = False
            log.warning(
                "broker_connection_lost", connection=self._name, broker=self._broker, error=type(error).__name__
            )

    def reconnected(self, _sender: object) -> None:
        self._up = True
        log.info("broker_connection_restored", connection=self._name, broker=self._broker)


async def connect_once(settings: Settings, name: str) -> AbstractConnection:
    """A plain (not robust) connection for a command that stops rather than reconnects."""
    try:
        async with asyncio.timeout(max(10.0, settings.publish_timeout_s)):
            return await aio_pika.connect(
                settings.amqp_url_str, client_properties={"connection_name": f"komo-braze {name}"}
            )
    except CONNECT_ERRORS as exc:
        raise unreachable(settings, exc) from exc
