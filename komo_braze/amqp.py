"""Broker connections over several addresses: connect to one node, fail over to the next that answers.

Every process shuffles ``KOMO_BRAZE_AMQP_URL``'s addresses once (a fleet spreads over the nodes), then
tries them in that order, starting after the one it last used. :func:`connect` gives a robust
connection that does this on every reconnection; :func:`connect_plain` one that does it once (the
``dlq`` commands, which must stop rather than reconnect, see ``worker/dlq/commands.py``).

aio-pika's robust connection reconnects to one URL only. :class:`FailoverConnection` changes that in one
place: the step that opens a new transport (a private method of ``RobustConnection``), which it wraps to
walk the addresses; ``tests/komo_braze/test_amqp.py`` has a canary for that method.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aio_pika.robust_connection import RobustConnection
from yarl import URL

from komo_braze.addresses import mask_passwords, redact_url, shuffled
from komo_braze.logs import get_logger
from komo_braze.settings import Settings

__all__ = ["FailoverConnection", "connect", "connect_plain"]

log = get_logger(__name__)

#: longest wait for one address to answer before the next is tried
ATTEMPT_TIMEOUT_S = 5.0

_open_transport = RobustConnection._RobustConnection__connect_transport  # type: ignore[attr-defined]


class FailoverConnection(RobustConnection):
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

    # the name aio-pika's own code calls (name-mangled), so that its reconnection loop walks the addresses
    async def _RobustConnection__connect_transport(self) -> None:
        failure: BaseException | None = None
        for _ in self.addresses:
            self.url = self.addresses[self._next]
            self._next = (self._next + 1) % len(self.addresses)
            try:
                await _open_transport(self)
            except CONNECTION_EXCEPTIONS as exc:
                failure = exc
                log.info("broker_address_failed", broker=self.address, error=type(exc).__name__)
                continue
            log.info("broker_address_connected", broker=self.address)
            return
        assert failure is not None
        raise failure


async def connect(settings: Settings, name: str) -> FailoverConnection:
    """A robust connection named ``name`` (shown by ``rabbitmqctl list_connections``) to the first of
    the shuffled addresses that answers; raises once none does."""
    connection = FailoverConnection(
        shuffled(settings.amqp_urls),
        client_properties={"connection_name": f"komo-braze {name}"},
        reconnect_interval=settings.reconnect_interval_s,
        fail_fast="true",
    )
    await connection.connect(timeout=ATTEMPT_TIMEOUT_S)
    return connection


async def connect_plain(settings: Settings, name: str) -> AbstractConnection:
    """A plain connection (it does not reconnect) to the first of the shuffled addresses that answers."""
    failure: BaseException | None = None
    for url in shuffled(settings.amqp_urls):
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
                return await aio_pika.connect(url, client_properties={"connection_name": f"komo-braze {name}"})
        except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
            failure = exc
            detail = mask_passwords(str(exc)[:200], settings.amqp_urls)
            log.info("broker_address_failed", broker=redact_url(url), error=type(exc).__name__, detail=detail)
    assert failure is not None
    raise failure
