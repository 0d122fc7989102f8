"""Run the project's own servers as subprocesses (the demo, benchmarks, end-to-end tests).

A component is ``komo-braze <subcommand>`` started with its settings in the environment and its port
set to 0; it announces where it listens with a ``listening`` log event (JSON lines, ``port`` field),
which :func:`start_component` reads from the component's log file before waiting for ``/readyz`` (on a
producer's admin port when it announces one with ``admin_listening``, else with the component's webhook
token, which a producer asks on its intake port).
Going through subprocesses keeps ``devtools`` free of imports of ``producer`` and ``worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

#: ``komo-braze`` as this interpreter runs it (a virtualenv's console script need not be on PATH)
KOMO_BRAZE = (sys.executable, "-m", "komo_braze.cli")
LISTENING_EVENT = "listening"
ADMIN_LISTENING_EVENT = "admin_listening"


class ComponentFailed(Exception):
    """A component exited or did not become ready; the message carries the end of its log."""


@dataclass
class Component:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    port: int = 0
    #: a producer's admin port (``KOMO_BRAZE_PRODUCER_ADMIN_BIND``), where its ``/readyz`` and ``/metrics`` are
    admin_port: int | None = None
    #: what ``/readyz`` and ``/metrics`` of this component ask: a producer on its intake port guards them
    admin_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """Where ``/readyz`` and ``/metrics`` are: the admin port when there is one, else the main one."""
        return f"http://127.0.0.1:{self.admin_port}" if self.admin_port is not None else self.url

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON log line the component has written so far."""
        events = []
        for line in self.log_path.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                event = orjson.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait up to ``timeout_s`` (SIGKILL after that); returns the exit status."""
        return await stop_process(self.process, timeout_s)


async def stop_process(process: asyncio.subprocess.Process, timeout_s: float = 30.0) -> int:
    """SIGTERM, then wait up to ``timeout_s`` (SIGKILL after that); returns the exit status."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout_s):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1


def component_env(**settings: str) -> dict[str, str]:
    """This process's environment for a child, with ``KOMO_BRAZE_<NAME>`` set from ``settings``."""
    env = dict(os.environ)  # noqa: TID251 - handing the environment on to a child, not reading a setting
    env.update({f"KOMO_BRAZE_{name.upper()}": value for name, value in settings.items()})
    # the listening event is read from JSON lines, and it is an info event
    env["KOMO_BRAZE_LOG_FORMAT"] = "json"
    if env.get("KOMO_BRAZE_LOG_LEVEL", "info").lower() != "debug":
        env["KOMO_BRAZE_LOG_LEVEL"] = "info"
    return env


async def spawn(*args: str, env: Mapping[str, str] | None = None, **options: Any) -> asyncio.subprocess.Process:
    """Start ``komo-braze ARGS``: the one way the demo, the benchmarks and the tests run it.

    ``options`` go to :func:`asyncio.create_subprocess_exec` (``stdin``, ``stdout``, ``stderr``, ``cwd``);
    without ``env`` the process inherits this one's environment.
    """
    return await asyncio.create_subprocess_exec(*KOMO_BRAZE, *args, env=None if env is None else dict(env), **options)


async def start_braze_sim(log_dir: Path, api_key: str, *flags: str) -> tuple[asyncio.subprocess.Process, str]:
    """``komo-braze braze-sim --quiet`` on a free port with ``api_key`` and ``flags``, started as any
    component (its output in ``log_dir/braze-sim.log``); returns the process and its base URL."""
    args = ["braze-sim", "--bind", "127.0.0.1:0", "--api-key", api_key, "--quiet", *flags]
    sim = await start_component("braze-sim", args, component_env(), log_dir)
    return sim.process, sim.url


async def start_component(
    name: str,
    args: list[str],
    env: Mapping[str, str],
    log_dir: Path,
    *,
    ready_timeout_s: float = 30.0,
) -> Component:
    """Start ``komo-braze <args>``, learn its port from its log, and wait until ``/readyz`` says ready."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = await spawn(*args, env=env, stdout=log_file, stderr=log_file)
    component = Component(name, process, log_path, admin_headers=credentials(env))
    try:
        async with asyncio.timeout(ready_timeout_s):
            component.port = await _wait_for_port(component)
            await _wait_for_ready(component)
    except (TimeoutError, ComponentFailed) as exc:
        status = await component.stop(timeout_s=5)
        raise ComponentFailed(
            f"{name} did not become ready ({type(exc).__name__}, exit status {status}); "
            f"last lines of {log_path}:\n{component.log_tail()}"
        ) from exc
    return component


def credentials(env: Mapping[str, str]) -> dict[str, str]:
    """The header that opens a producer's ``/readyz`` and ``/metrics``: its first webhook token, if any."""
    tokens = [token.strip() for token in env.get("KOMO_BRAZE_WEBHOOK_TOKEN", "").split(",") if token.strip()]
    return {"Authorization": f"Bearer {tokens[0]}"} if tokens else {}


async def _wait_for_port(component: Component) -> int:
    while True:
        for event in component.log_events():
            if event.get("event") == ADMIN_LISTENING_EVENT and isinstance(event.get("port"), int):
                component.admin_port = int(event["port"])  # logged before the main port
            if event.get("event") == LISTENING_EVENT and isinstance(event.get("port"), int):
                return int(event["port"])
        if component.process.returncode is not None:
            raise ComponentFailed(f"{component.name} exited")
        await asyncio.sleep(0.05)


async def _wait_for_ready(component: Component) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{component.admin_url}/readyz", headers=component.admin_headers) as response:
                    if response.status == 200:
                        return
            if component.process.returncode is not None:
                raise ComponentFailed(f"{component.name} exited")
            await asyncio.sleep(0.1)
