"""Broker connections over several addresses: connect to one node, fail over to the next that answers,
and say so in the logs.

Every process shuffles ``KOMO_BRAZE_AMQP_URL``'s addresses once (a fleet spreads over the nodes), then
tries them in that order, starting after the one it last used. :func:`connect` gives a robust
connection that does this on every reconnection; :func:`connect_once` a plain one that does it once
(commands that stop rather than reconnect, such as ``dlq``).

aio-pika's robust connection reconnects to one URL only. :class:`FailoverConnection` changes that in one
place: the step that opens a new transport, which it overrides to walk the addresses (the private step is
hooked in :mod:`komo_braze.amqp_adapter`, whose canary test watches it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from komo_braze.addresses import mask_passwords, redact, redact_url, shuffled
from komo_braze.amqp_adapter import TransportStepConnection
from komo_braze.failures import BrokerUnreachable
from komo_braze.logs import error_fields, get_logger
from komo_braze.settings import Settings

__all__ = ["FailoverConnection", "connect", "connect_once", "unreachable"]

log = get_logger(__name__)

#: what a connection attempt raises when the broker is away or refuses us
CONNECT_ERRORS = (aio_pika.exceptions.AMQPConnectionError, ConnectionError, OSError, TimeoutError)
#: longest wait for one address to answer before the next is tried
ATTEMPT_TIMEOUT_S = 5.0


class FailoverConnection(TransportStepConnection):
    """A robust connection that reconnects to the next address that answers, not only to its first."""

    def __init__(self, addresses: Sequence[str], **kwargs: Any) -> None:
        if not addresses:
            raise ValueError("no broker address")
        self.addresses = [URL(address) for address in addresses]
        self._next = 0
        super().__init__(self.addresses[0], **kwargs)

    @property
    def address(self) -> str:
        """The address in use (or last tried), password masked."""
        return redact_url(str(self.url))

    async def open_transport(self, open_one: Callable[[], Awaitable[None]]) -> None:
        """Try each address in turn, starting after the one used last, until one answers."""
        failure: BaseException | None = None
        for _ in self.addresses:
            self.url = self.addresses[self._next]
            self._next = (self._next + 1) % len(self.addresses)
            try:
                await open_one()
            except CONNECTION_EXCEPTIONS as exc:
                failure = exc
                log.debug(
                    "broker_address_failed", broker=self.address, **error_fields(exc, [str(a) for a in self.addresses])
                )
                continue
            return
        assert failure is not None
        raise failure


def unreachable(settings: Settings, error: BaseException) -> BrokerUnreachable:
    """The one-line failure for a broker none of whose addresses let us in (no password in it)."""
    reason = mask_passwords(str(error) or type(error).__name__, settings.amqp_urls)
    return BrokerUnreachable(f"broker {redact(settings.amqp_urls)} unreachable: {reason[:200]}")


async def connect(settings: Settings, name: str) -> FailoverConnection:
    """A robust connection named ``name`` (shown by ``rabbitmqctl list_connections``) to the first of
    the shuffled addresses that answers.

    The first attempt either succeeds or raises :class:`BrokerUnreachable`; later losses are
    reconnected (to the next node that answers) and logged as ``broker_connection_lost`` /
    ``broker_connection_restored``, with the node.
    """
    connection = FailoverConnection(
        shuffled(settings.amqp_urls),
        client_properties={"connection_name": f"komo-braze {name}"},
        reconnect_interval=settings.reconnect_interval_s,
        fail_fast="true",
    )
    try:
        await connection.connect(timeout=ATTEMPT_TIMEOUT_S)
    except CONNECT_ERRORS as exc:
        raise unreachable(settings, exc) from exc
    watch = _ConnectionWatch(connection, name)
    connection.close_callbacks.add(watch.closed)
    connection.reconnect_callbacks.add(watch.reconnected)
    return connection


class _ConnectionWatch:
    """Logs a robust connection's losses and returns, once per outage (each failed reconnection
    attempt closes the connection again)."""

    def __init__(self, connection: FailoverConnection, name: str) -> None:
        self._connection = connection
        self._name = name
        self._up = True

    def closed(self, _sender: object, error: BaseException | None = None) -> None:
        if self._connection.is_closed or error is None or isinstance(error, asyncio.CancelledError):
            return  # closed by us
        if self._up:
            self._up = False
            log.warning(
                "broker_connection_lost",
                connection=self._name,
                broker=self._connection.address,
                error=type(error).__name__,
            )

    def reconnected(self, _sender: object) -> None:
        self._up = True
        log.info("broker_connection_restored", connection=self._name, broker=self._connection.address)


async def connect_once(settings: Settings, name: str) -> AbstractConnection:
    """A plain (not robust) connection, for a command that stops rather than reconnects, to the first of
    the shuffled addresses that answers; raises :class:`BrokerUnreachable` when none does."""
    failure: BaseException | None = None
    for url in shuffled(settings.amqp_urls):
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
                return await aio_pika.connect(url, client_properties={"connection_name": f"komo-braze {name}"})
        except CONNECT_ERRORS as exc:
            failure = exc
            log.debug("broker_address_failed", broker=redact_url(url), **error_fields(exc, settings.amqp_urls))
    assert failure is not None
    raise unreachable(settings, failure) from failure
