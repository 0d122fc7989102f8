"""Running ``komo-braze`` for real, as a subprocess, and reading what it wrote."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from devtools.components import spawn

ROOT = Path(__file__).resolve().parents[1]


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


async def run_komo_braze(
    *args: str, env: Mapping[str, str], timeout_s: float = 60, stdin: bytes | None = None
) -> Finished:
    """``komo-braze ARGS`` in the repository's root, fed ``stdin`` (else nothing); waits for it to exit
    (killed after ``timeout_s``). A process to talk to while it runs: :func:`devtools.components.spawn`."""
    process = await spawn(
        *args,
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout=timeout_s)
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
