"""A RabbitMQ node of the test's own, for tests that must break or reconfigure a broker.

The shared broker on 5672 is never touched: the node gets its own name, ports, data and log
directories, config file (e.g. a low ``consumer_timeout``) and Erlang cookie (``HOME`` in a temp dir),
and is stopped with ``rabbitmqctl -n NODE stop`` afterwards. Usage::

    async with own_broker(config={"consumer_timeout": 5000}) as node:
        url = node.amqp_url
        await node.restart()          # stop and start again, same data (a broker restart)
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.broker import broker_answers

SERVER = shutil.which("rabbitmq-server", path="/usr/lib/rabbitmq/bin:" + os.environ.get("PATH", ""))
CTL = shutil.which("rabbitmqctl", path="/usr/lib/rabbitmq/bin:" + os.environ.get("PATH", ""))
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn_logged(argv: Sequence[str], log: Path, **options: Any) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its output appended to ``log`` (a server of a test's own)."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **options)


async def await_answer(
    process: subprocess.Popen[bytes],
    answers: Callable[[], bool],
    log: Path,
    what: str,
    timeout_s: float,
    interval_s: float,
) -> None:
    """Return once ``answers()`` holds; raise with the end of ``log`` if ``process`` exits or ``timeout_s``
    passes first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await asyncio.to_thread(answers):
        if process.poll() is not None or loop.time() > deadline:
            output = await asyncio.to_thread(log.read_text, errors="replace")
            raise RuntimeError(f"{what} did not start:\n{output[-2000:]}")
        await asyncio.sleep(interval_s)


@dataclass
class OwnBroker:
    """A running node: its AMQP URL, and how to stop, start or restart it."""

    node: str
    port: int
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    management_port: int | None = None

    @property
    def management_url(self) -> str:
        assert self.management_port is not None, "started without the management plugin"
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        assert CTL is not None
        return subprocess.run(
            [CTL, "-n", self.node, *args], env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False
        )

    async def start(self) -> None:
        assert SERVER is not None
        log = self.home / "server.out"
        self.process = await asyncio.to_thread(spawn_logged, [SERVER], log, env=self.env)
        answers = functools.partial(broker_answers, self.amqp_url)
        await await_answer(self.process, answers, log, f"own broker {self.node}", START_TIMEOUT_S, 0.5)
        await asyncio.to_thread(self.ctl, "await_startup")

    async def stop(self) -> None:
        await asyncio.to_thread(self.ctl, "stop")
        if self.process is not None:
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)
            self.process = None

    async def kill(self) -> None:
        """SIGKILL the node's Erlang VM: it dies without a word to its clients or its cluster."""
        pid = int((self.home / "node.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            await asyncio.to_thread(self.process.wait, 30)
            self.process = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


def prepare_node(
    base: Path,
    home: Path,
    *,
    config: Mapping[str, object] | None = None,
    rabbit_env: Mapping[str, int | str] | None = None,
    plugins: Sequence[str] = (),
) -> OwnBroker:
    """Write the files of a node of our own under ``base`` (its data, logs, config) and return it,
    not started. ``home`` holds the Erlang cookie: nodes that share it can form a cluster. With
    ``rabbitmq_management`` among ``plugins`` the node serves the management API on a port of its own."""
    base.mkdir(parents=True, exist_ok=True)
    node = f"kb-test-{uuid.uuid4().hex[:8]}@localhost"
    port = free_port()
    management_port = free_port() if "rabbitmq_management" in plugins else None
    lines = [f"listeners.tcp.default = {port}", "loopback_users = none"]
    if management_port is not None:
        lines += [f"management.tcp.port = {management_port}", "management.tcp.ip = 127.0.0.1"]
    lines += [f"{key} = {value}" for key, value in (config or {}).items()]
    (base / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
    (base / "enabled_plugins").write_text(f"[{', '.join(plugins)}].\n")
    terms = ", ".join(f"{{{key}, {value}}}" for key, value in (rabbit_env or {}).items())
    (base / "advanced.config").write_text(f"[{{rabbit, [{terms}]}}].\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
    env.update(
        HOME=str(home),
        RABBITMQ_NODENAME=node,
        RABBITMQ_NODE_PORT=str(port),
        RABBITMQ_DIST_PORT=str(free_port()),
        RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
        RABBITMQ_LOG_BASE=str(base / "log"),
        RABBITMQ_CONFIG_FILE=str(base / "rabbitmq.conf"),
        RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
        RABBITMQ_PID_FILE=str(base / "node.pid"),
    )
    return OwnBroker(node=node, port=port, home=base, env=env, management_port=management_port)


def require_server() -> None:
    if SERVER is None or CTL is None:
        raise RuntimeError("rabbitmq-server is not installed: the own-broker tests need it")


@asynccontextmanager
async def own_broker(
    config: Mapping[str, object] | None = None, rabbit_env: Mapping[str, int | str] | None = None
) -> AsyncIterator[OwnBroker]:
    """Start a private RabbitMQ node with ``config`` (``rabbitmq.conf`` keys) and ``rabbit_env`` (keys of
    the ``rabbit`` application in ``advanced.config``, e.g. ``channel_tick_interval``: RabbitMQ checks
    ``consumer_timeout`` only on that tick, every 60 s by default); stop and remove it after."""
    require_server()
    base = Path(tempfile.mkdtemp(prefix="kb-broker-"))
    broker = prepare_node(base, base, config=config, rabbit_env=rabbit_env)
    try:
        await broker.start()
        yield broker
    finally:
        try:
            await broker.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
