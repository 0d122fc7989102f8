"""Shutdown by signal (komo_braze/shutdown.py), in a real process that receives real signals."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest

from tests.cli import ROOT

pytestmark = pytest.mark.timeout(60)

#: a command's life: serve until the trigger fires, then a stop of ``argv[2]`` seconds, then leave the
#: handlers behind and linger (a signal now has its default effect)
CHILD = """
import asyncio, sys
from komo_braze.logs import LogFormat, configure
from komo_braze.shutdown import signal_shutdown

async def main(second_signal, stop_s):
    with signal_shutdown(second_signal=second_signal, notice="stopping, tell the person") as shutdown:
        print("serving", flush=True)
        await shutdown.wait()
        print("stopping", flush=True)
        await asyncio.sleep(stop_s)
    print("stopped", flush=True)
    await asyncio.sleep(30)

configure("info", LogFormat.JSON)
asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


class Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def said(self, line: str) -> None:
        """Wait until the child writes ``line`` on stdout."""
        assert self.process.stdout is not None
        async with asyncio.timeout(20):
            while (await self.process.stdout.readline()).decode().strip() != line:
                pass

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def status(self) -> int:
        async with asyncio.timeout(20):
            return await self.process.wait()

    async def events(self) -> list[dict[str, object]]:
        assert self.process.stderr is not None
        lines = (await self.process.stderr.read()).decode().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith("{")]

    async def stderr_lines(self) -> list[str]:
        assert self.process.stderr is not None
        return (await self.process.stderr.read()).decode().splitlines()


@asynccontextmanager
async def child(second_signal: str, stop_s: float) -> AsyncIterator[Child]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        second_signal,
        str(stop_s),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield Child(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_the_first_signal_fires_the_trigger_and_tells_the_person(signum: int) -> None:
    async with child("exit", stop_s=0.1) as proc:
        await proc.said("serving")
        proc.signal(signum)
        await proc.said("stopping")
        await proc.said("stopped")
        proc.signal(signal.SIGKILL)
        assert await proc.status() == -signal.SIGKILL
        lines = await proc.stderr_lines()
    assert "stopping, tell the person" in lines
    events = [orjson.loads(line) for line in lines if line.startswith("{")]
    assert [e["event"] for e in events] == ["signal_received"]
    assert events[0]["signal"] == signal.Signals(signum).name
    assert events[0]["second_signal"] == "exit"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_exit_ends_the_process_at_once_on_the_second_signal_with_the_shells_status(signum: int) -> None:
    async with child("exit", stop_s=30) as proc:
        await proc.said("serving")
        proc.signal(signal.SIGTERM)
        await proc.said("stopping")
        proc.signal(signum)
        assert await proc.status() == 128 + signum
        events = await proc.events()
    assert [e["event"] for e in events] == ["signal_received", "forced_exit"]
    assert events[1]["signal"] == signal.Signals(signum).name


async def test_ignore_lets_the_stop_under_way_finish_on_the_second_signal() -> None:
    async with child("ignore", stop_s=1.0) as proc:
        await proc.said("serving")
        proc.signal(signal.SIGTERM)
        await proc.said("stopping")
        proc.signal(signal.SIGINT)
        await proc.said("stopped")
        proc.signal(signal.SIGKILL)
        assert await proc.status() == -signal.SIGKILL
        events = await proc.events()
    assert [e["event"] for e in events] == ["signal_received", "signal_ignored"]


async def test_leaving_hands_the_signals_back_to_their_default() -> None:
    async with child("ignore", stop_s=0.0) as proc:
        await proc.said("serving")
        proc.signal(signal.SIGTERM)
        await proc.said("stopped")
        proc.signal(signal.SIGTERM)
        assert await proc.status() == -signal.SIGTERM
