"""Redis for the state tests: the shared one (keys under a per-test prefix, deleted afterwards) and a
``redis-server`` of the test's own on a free port, for the tests that kill or freeze it.

The shared Redis on 6379 is never stopped or reconfigured; ``KOMO_BRAZE_TEST_REDIS_URL`` points elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.own_broker import free_port

SHARED_URL = os.environ.get("KOMO_BRAZE_TEST_REDIS_URL", "redis://localhost:6379/0")
SERVER = shutil.which("redis-server")
START_TIMEOUT_S = 15.0


def unique_prefix(label: str) -> str:
    return f"test-{label}-{uuid.uuid4().hex[:8]}"


async def delete_keys(client: aioredis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (what a test wrote, and nothing else)."""
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)


async def answers(url: str) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@dataclass
class OwnRedis:
    """A ``redis-server`` of the test's own: no persistence, its own port and directory."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        assert SERVER is not None, "redis-server is not installed (make test installs it)"
        self.process = await asyncio.to_thread(self._spawn, SERVER)
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not await answers(self.url):
            if self.process.poll() is not None or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"own redis-server on port {self.port} did not start")
            await asyncio.sleep(0.05)

    def _spawn(self, server: str) -> subprocess.Popen[bytes]:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return subprocess.Popen(
            [server, *args, "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill(self) -> None:
        """``kill -9``: gone at once, connections reset."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a Redis too slow to use)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@asynccontextmanager
async def own_redis(directory: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(free_port(), directory)
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.thaw()
        server.kill()
