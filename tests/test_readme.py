"""README's shell examples, run as written, in README's order.

Every line of README's ```sh blocks runs here from a directory holding the repository's ``examples/``
and ``deploy/``, with the virtual environment's ``bin`` first on ``PATH`` (as after
``source .venv/bin/activate``). Only what a shared test machine needs is changed: the test's own broker
prefix, free ports in place of 9911 and 8080, the worker's metrics on a free port, and README's
placeholders (``<site_id>``, ``<submission_id>``) filled in with the sample's dead letter, as README
says. A ``komo-braze producer|worker|braze-sim`` line is a server: started once, waited for, stopped at
the end. A command must exit 0, or with the status its comment names ("exit status N"). A block that
cannot run on a test machine follows a line ``<!-- not run by tests/test_readme.py: REASON -->``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest

from devtools.components import stop_process
from tests.broker import BrokerKit
from tests.cli import ROOT, Finished
from tests.komo_example import KOMO_BODY
from tests.own_broker import free_port

#: the line before a ```sh block that cannot run on a test machine (a Docker engine, the shared broker's
#: configuration), with the reason
NOT_RUN = re.compile(r"<!-- not run by tests/test_readme.py: (.+) -->")
SERVER = re.compile(r"\bkomo-braze (producer|worker|braze-sim)\b")
EXPECTED_STATUS = re.compile(r"#.*exit status (\d+)")
#: the sample's dead letter: the last line of examples/backfill.ndjson identifies nobody
DEAD_HUB = "c4e6a8b0-1d3f-4a5c-9e7b-2f4a6c8e0b1d"
DEAD_SUBMISSION = "b7e0c1a2-0005-4c3d-8e5f-000000000005"
COMMAND_TIMEOUT_S = 60.0


def readme_examples() -> list[str]:
    """Each command of README's ```sh blocks (continued lines joined), in order, but for the blocks
    marked as not run."""
    commands: list[str] = []
    in_block, pending, previous = False, "", ""
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = line == "```sh" and not NOT_RUN.fullmatch(previous)
            continue
        if line.strip():
            previous = line.strip()
        if not in_block or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        commands.append(pending)
        pending = ""
    return commands


def _bare(command: str) -> str:
    """The command without its comment."""
    return command.split("#")[0].strip()


@dataclass
class Run:
    """One run of README: its environment, its servers, and what each command answered."""

    broker: BrokerKit
    workdir: Path
    sim_port: int = field(default_factory=free_port)
    producer_port: int = field(default_factory=free_port)
    servers: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    answers: list[tuple[str, Finished]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return self.broker.env(
            PATH=path,
            KOMO_BRAZE_PRODUCER_BIND=f"127.0.0.1:{self.producer_port}",
            KOMO_BRAZE_WORKER_METRICS_BIND="127.0.0.1:0",
            KOMO_BRAZE_BATCH_LINGER_MS="20",
        )

    def as_run_here(self, command: str) -> str:
        command = command.replace("127.0.0.1:9911", f"127.0.0.1:{self.sim_port}")
        command = command.replace("127.0.0.1:8080", f"127.0.0.1:{self.producer_port}")
        return command.replace("<site_id>", DEAD_HUB).replace("<submission_id>", DEAD_SUBMISSION)

    async def run(self, command: str) -> Finished:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-o",
            "pipefail",
            "-c",
            self.as_run_here(command),
            env=self.env,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=COMMAND_TIMEOUT_S)
        finished = Finished(
            process.returncode if process.returncode is not None else -1, stdout.decode(), stderr.decode()
        )
        self.answers.append((command, finished))
        return finished

    async def start_server(self, kind: str, command: str) -> None:
        command = self.as_run_here(_bare(command).removesuffix("&"))
        if kind == "braze-sim":
            command += f" --bind 127.0.0.1:{self.sim_port}"
        log = (self.workdir / f"{kind}.log").open("wb")
        self.servers[kind] = await asyncio.create_subprocess_exec(
            "bash", "-c", command, env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        log.close()
        await asyncio.wait_for(self._ready(kind), timeout=30)

    async def _ready(self, kind: str) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                url = await self._health_url(kind)
                if url is not None:
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with session.get(url) as response:
                            if response.status == 200:
                                return
                assert self.servers[kind].returncode is None, (self.workdir / f"{kind}.log").read_text()
                await asyncio.sleep(0.1)

    async def _health_url(self, kind: str) -> str | None:
        if kind == "braze-sim":
            return f"http://127.0.0.1:{self.sim_port}/_sim/stats"
        if kind == "producer":
            return f"http://127.0.0.1:{self.producer_port}/readyz"
        for line in (self.workdir / "worker.log").read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                event = orjson.loads(line)
                if event.get("event") == "listening":
                    return f"http://127.0.0.1:{event['port']}/readyz"
        return None

    async def stop_servers(self) -> dict[str, int]:
        return {kind: await stop_process(process) for kind, process in reversed(self.servers.items())}

    async def settled(self) -> None:
        """Wait until the worker delivered every sample that identifies someone and dead-lettered the other."""
        expected = {KOMO_BODY["submission_id"]} | {
            orjson.loads(line)["submission_id"]
            for line in (ROOT / "examples/backfill.ndjson").read_bytes().splitlines()
        } - {DEAD_SUBMISSION}
        url = f"http://127.0.0.1:{self.sim_port}/_sim/events?limit=1000"
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(url) as response:
                    events = (await response.json())["events"]
                delivered = {e["properties"]["submission_id"] for e in events}
                if delivered >= expected and await self.broker.count(self.broker.names.dead_queue) == 1:
                    return
                await asyncio.sleep(0.2)


@pytest.mark.timeout(150)
async def test_every_readme_example_runs_as_written(broker: BrokerKit, tmp_path: Path) -> None:
    broker.workspaces.add("client_b")
    for name in ("examples", "deploy"):
        (tmp_path / name).symlink_to(ROOT / name)
    run = Run(broker, tmp_path)
    examples = readme_examples()
    started: set[str] = set()
    try:
        for command in examples:
            server = SERVER.search(command)
            if server:
                if command not in started:
                    await run.start_server(server.group(1), command)
                    started.add(command)
                continue
            if command.startswith("komo-braze dlq") and not any(c.startswith("komo-braze dlq") for c, _ in run.answers):
                await asyncio.wait_for(run.settled(), timeout=60)
            finished = await run.run(command)
            expected = EXPECTED_STATUS.search(command)
            assert finished.status == (int(expected.group(1)) if expected else 0), (
                f"README's example {command!r} failed: {finished}. An example that cannot run on a test machine "
                "goes in a block after the line <!-- not run by tests/test_readme.py: REASON -->"
            )
    finally:
        stopped = await run.stop_servers()
    assert stopped == {"worker": 0, "braze-sim": 0, "producer": 0}
    assert len(started) == 3, "README starts a producer, a braze-sim and a worker"

    posted = next(f for c, f in run.answers if c.startswith("curl -s -X POST http://127.0.0.1:8080/v1/submissions"))
    assert orjson.loads(posted.stdout) == {"submission_id": KOMO_BODY["submission_id"]}
    shown = next(f for c, f in run.answers if c.startswith("komo-braze dlq show <submission_id>"))
    assert orjson.loads(shown.stdout)["headers"]["x-error-kind"] == "no_identifier"
    profile = next(f for c, f in run.answers if "_sim/profile?external_id=user-1" in c)
    assert orjson.loads(profile.stdout)["attributes"]["first_name"] == "Olivia"
