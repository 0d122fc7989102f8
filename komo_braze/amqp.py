"""Broker connections: a robust aio-pika connection that reconnects by itself."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from komo_braze.settings import Settings


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def connect(settings: Settings, name: str) -> AbstractRobustConnection:
    """A robust connection named ``name`` (shown by ``rabbitmqctl list_connections``)."""
    return await aio_pika.connect_robust(
        settings.amqp_url_str,
        client_properties={"connection_name": f"komo-braze {name}"},
        reconnect_interval=settings.reconnect_interval_s,
        fail_fast="true",
    )
