"""Test helpers for a real broker: where it is, isolated prefixes, counting and reading queues."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from komo_braze import topology
from komo_braze.settings import Settings, load_settings

DEFAULT_URL = "amqp://guest:guest@localhost:5672/"


def broker_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 5672), timeout=2) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return bool(sock.recv(8))
    except OSError:
        return False


def unique_prefix(label: str = "t") -> str:
    return f"test-{label}-{uuid.uuid4().hex[:10]}"


@dataclass
class BrokerKit:
    """One test's share of the broker: its own prefix, and everything it declares deleted after."""

    amqp_url: str
    prefix: str
    workspaces: set[str] = field(default_factory=set)

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(**{"amqp_url": self.amqp_url, "prefix": self.prefix, **overrides})

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a subprocess of ours (`komo-braze ...`) that uses this prefix."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOMO_BRAZE_")}
        env.update(KOMO_BRAZE_AMQP_URL=self.amqp_url, KOMO_BRAZE_PREFIX=self.prefix, KOMO_BRAZE_LOG_FORMAT="json")
        env.update(extra)
        return env

    @property
    def names(self) -> topology.Names:
        return topology.Names(self.prefix)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            yield connection

    async def declare(self, **kwargs: Any) -> None:
        async with self.connection() as connection:
            channel = await connection.channel()
            await topology.declare(channel, self.prefix, **kwargs)

    async def count(self, queue_name: str) -> int:
        async with self.connection() as connection:
            counts = await topology.queue_counts(connection, queue_name)
        return counts[0] if counts else 0

    async def wait_for_count(self, queue_name: str, expected: int, timeout_s: float = 15.0) -> int:
        """Poll until the queue holds ``expected`` messages; returns the last count seen."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        count = await self.count(queue_name)
        while count != expected and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            count = await self.count(queue_name)
        return count

    async def drain(self, queue_name: str, *, max_messages: int = 100_000) -> list[AbstractIncomingMessage]:
        """Take every message now on the queue (acked: they are gone afterwards)."""
        taken: list[AbstractIncomingMessage] = []
        async with self.connection() as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(queue_name, passive=True)
            while len(taken) < max_messages:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    break
                taken.append(message)
        return taken

    async def cleanup(self) -> None:
        async with self.connection() as connection:
            channel = await connection.channel()
            await topology.delete(channel, self.prefix, self.workspaces)
