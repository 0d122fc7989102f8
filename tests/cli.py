"""Running ``komo-braze`` for real, as a subprocess, and reading what it wrote."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
KOMO_BRAZE = [sys.executable, "-m", "komo_braze.cli"]


@dataclass(frozen=True)
class Finished:
    status: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def stderr_events(self) -> list[dict[str, Any]]:
        """Every stderr line as JSON (fails the test on a line that is not)."""
        return [orjson.loads(line) for line in self.stderr_lines]


async def run_komo_braze(*args: str, env: Mapping[str, str], timeout_s: float = 60) -> Finished:
    """``komo-braze ARGS`` in the repository's root; waits for it to exit (killed after ``timeout_s``)."""
    process = await asyncio.create_subprocess_exec(
        *KOMO_BRAZE,
        *args,
        env=dict(env),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


@contextmanager
def busy_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (held, so no one else takes it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
