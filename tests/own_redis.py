"""A redis-server of the test's own, for tests that must kill or restart a Redis.

The shared Redis on 6379 is never touched: this one listens on a free port, keeps its files in a temp
directory and saves nothing (``--save ""``), so a restart starts empty, as a Redis without persistence
does after a crash. Usage::

    async with own_redis() as server:
        url = server.url
        await server.kill()     # SIGKILL, mid-stream
        await server.start()    # the same port again
        server.freeze()         # SIGSTOP: connections stay open and nothing answers (a Redis too slow to use)
        server.thaw()
        await fail_over(server, other)  # other becomes the primary, server its replica
        await replicate(other, server)  # other copies server
        async with own_sentinel(server, "name") as port: ...  # a Sentinel watching server
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from tests.own_broker import await_answer, free_port, spawn_logged

SERVER = shutil.which("redis-server")
START_TIMEOUT_S = 20.0


def redis_answers(host: str, port: int, *, locked: bool = False) -> bool:
    """``PING`` answered (or, ``locked``, refused for want of a password: answered all the same)."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH") if locked else b"+PONG")
    except OSError:
        return False


@dataclass
class OwnRedis:
    port: int
    home: Path
    process: subprocess.Popen[bytes] | None = None
    #: a Sentinel's own lines of configuration (``sentinel monitor …``); none: a plain redis-server
    sentinel: str | None = None
    locked: bool = False  # it answers only clients that give its password

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _argv(self) -> list[str]:
        assert SERVER is not None
        if self.sentinel is None:
            return [SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        config = self.home / "sentinel.conf"
        if not config.exists():  # Sentinel writes what it learns into it: a restart keeps that
            config.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.home}\n{self.sentinel}")
        return [SERVER, str(config), "--sentinel"]

    async def start(self) -> None:
        log = self.home / "server.out"
        self.process = await asyncio.to_thread(spawn_logged, self._argv(), log, cwd=self.home)
        answers = functools.partial(redis_answers, "127.0.0.1", self.port, locked=self.locked)
        await await_answer(self.process, answers, log, f"own redis-server on {self.port}", START_TIMEOUT_S, 0.05)

    async def kill(self) -> None:
        """``kill -9``: gone at once, connections reset (a stopped one too)."""
        if self.process is not None:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a Redis too slow to use)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


async def replicate(replica: OwnRedis, primary: OwnRedis | None) -> None:
    """``replica`` copies ``primary`` from now on (``REPLICAOF``); with ``None``, it is a primary again."""
    client: Redis = Redis(host="127.0.0.1", port=replica.port)
    try:
        await (client.replicaof("NO", "ONE") if primary is None else client.replicaof("127.0.0.1", primary.port))
    finally:
        await client.aclose()


async def fail_over(primary: OwnRedis, replica: OwnRedis) -> None:
    """What Sentinel or a managed Redis does on a failover: ``replica`` becomes the primary, and the old
    ``primary`` its replica (it answers ``PING`` and refuses writes)."""
    await replicate(replica, None)
    await replicate(primary, replica)


@asynccontextmanager
async def own_sentinel(primary: OwnRedis, service: str, *, password: str | None = None) -> AsyncIterator[int]:
    """A Redis Sentinel of the test's own watching ``primary`` as ``service`` (alone, so a quorum of one), quick
    to act: the primary is down after 500 ms without an answer, and a replica promoted a second or two later;
    with ``password``, it answers only clients that give it. Yields its port."""
    config = (
        f"sentinel monitor {service} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {service} 500\n"
        f"sentinel failover-timeout {service} 2000\n"
    ) + (f"requirepass {password}\n" if password else "")
    async with own_redis(sentinel=config, locked=password is not None) as sentinel:
        yield sentinel.port


@asynccontextmanager
async def own_redis(*, sentinel: str | None = None, locked: bool = False) -> AsyncIterator[OwnRedis]:
    """Start a private redis-server (a Sentinel, given its configuration: see :func:`own_sentinel`); kill it and
    remove its directory after."""
    if SERVER is None:
        raise RuntimeError("redis-server is not installed: `make test` installs it (scripts/ensure-redis.sh)")
    home = Path(tempfile.mkdtemp(prefix="kb-redis-"))
    server = OwnRedis(port=free_port(), home=home, sentinel=sentinel, locked=locked)
    try:
        await server.start()
        yield server
    finally:
        try:
            await server.kill()
        finally:
            shutil.rmtree(server.home, ignore_errors=True)
