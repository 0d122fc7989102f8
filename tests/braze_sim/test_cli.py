"""``komo-braze braze-sim`` as people and tools run it: a subprocess that prints its address first,
one line per request, and a summary when it is stopped."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from braze_sim.requestlog import format_record
from braze_sim.state import RequestRecord
from devtools.components import component_env, spawn, start_component
from tests.braze_sim.helpers import BrazeCaller, attrs
from tests.cli import run_komo_braze

PREFIX = b"braze-sim listening on http://"


def _environment(**extra: str) -> dict[str, str]:
    """This environment without KOMO_BRAZE_* settings (they would change the defaults under test)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KOMO_BRAZE_")} | extra


async def _start(*flags: str, env: dict[str, str] | None = None) -> tuple[asyncio.subprocess.Process, str]:
    process = await spawn(
        "braze-sim", "--bind", "127.0.0.1:0", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env or _environment(),
    )  # fmt: skip
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    assert first.startswith(PREFIX), first
    return process, first.decode().strip().removeprefix("braze-sim listening on ")


async def _stop(process: asyncio.subprocess.Process, signum: int = signal.SIGTERM) -> tuple[str, str]:
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_start_one_request_stop_with_a_summary(session: aiohttp.ClientSession, signum: int) -> None:
    process, url = await _start("--api-key", "cli=cli-key", "--rate-limit", "10/1h")
    try:
        braze = BrazeCaller(session, url)
        answer = await braze.track(attrs({"external_id": "u1"}, {"first_name": "no id"}), key="cli-key")
        assert answer.status == 201
        assert answer.headers["X-RateLimit-Limit"] == "10"
        assert (await braze.track(attrs({"external_id": "u1"}), key="wrong")).status == 401
    finally:
        out, _err = await _stop(process, signum)
    lines = out.splitlines()
    assert " status=201 workspace=cli attributes=2 events=0 purchases=0 errors=1 " in lines[0]
    assert " status=401 workspace=- " in lines[1]
    assert lines[2].startswith("braze-sim summary: 2 requests in ")
    assert "(201: 1, 401: 1)" in lines[2]
    assert "attributes 2 (1 rejected)" in out
    assert "profiles: cli 1" in out
    assert "cli-key" not in out  # a key is a secret


async def test_fault_flags_and_mode(session: aiohttp.ClientSession) -> None:
    process, url = await _start("--error-rate", "1", "--error-statuses", "503", "--mode", "per-array", "--quiet")
    try:
        answer = await BrazeCaller(session, url).track(attrs({"external_id": "u1"}))
        assert answer.status == 503
        async with session.get(f"{url}/_sim/faults") as response:
            faults = await response.json()
        assert (faults["error_rate"], faults["error_statuses"]) == (1.0, [503])
    finally:
        out, _err = await _stop(process)
    assert "status=503" not in out  # --quiet: no line per request
    assert "(503: 1)" in out


async def test_hostile_mode_flags(session: aiohttp.ClientSession) -> None:
    process, url = await _start("--hostile-rate", "1", "--hostile-kinds", "html_200", "--quiet", "--seed", "1")
    try:
        async with session.post(f"{url}/users/track", headers={"Authorization": "Bearer test-key"}, data=b"{}") as r:
            assert (r.status, r.content_type) == (200, "text/html")
        async with session.get(f"{url}/_sim/faults") as response:
            faults = await response.json()
        assert (faults["hostile_rate"], faults["hostile_kinds"]) == (1.0, ["html_200"])
    finally:
        out, _err = await _stop(process)
    assert "(200: 1)" in out


async def test_help_documents_hostile_mode() -> None:
    finished = await run_komo_braze("braze-sim", "--help", env=_environment(), timeout_s=30)
    text = " ".join(finished.stdout.split())
    assert "--hostile-rate FLOAT hostile mode: share of requests (0..1)" in text
    assert "429_retry_after_negative" in text
    assert "--redirect-to TEXT where hostile redirects point" in text


async def test_the_default_key_is_the_workers_own(session: aiohttp.ClientSession) -> None:
    process, url = await _start("--quiet", env=_environment(KOMO_BRAZE_BRAZE_API_KEY="worker-key"))
    try:
        braze = BrazeCaller(session, url)
        assert (await braze.track(attrs({"external_id": "u1"}), key="worker-key")).status == 201
        assert (await braze.track(attrs({"external_id": "u1"}), key="test-key")).status == 401
    finally:
        await _stop(process)


async def test_bad_flags_are_usage_errors() -> None:
    finished = await run_komo_braze("braze-sim", "--rate-limit", "lots", env=_environment(), timeout_s=30)
    assert finished.status == 2
    assert "expected a rate like 3000/3s" in finished.stderr


def test_a_log_line_names_no_key_and_no_value() -> None:
    record = RequestRecord(at=0.5, workspace="ws1", status=429, attributes=3, latency_ms=1.25, note="429 storm")
    assert format_record(record) == (
        "00:00:00.500Z status=429 workspace=ws1 attributes=3 events=0 purchases=0 errors=0 latency_ms=1.2 "
        'note="429 storm"'
    )


async def test_it_runs_as_a_component(session: aiohttp.ClientSession, tmp_path: Path) -> None:
    env = component_env(braze_api_key="component-key")
    simulator = await start_component("braze-sim", ["braze-sim", "--bind", "127.0.0.1:0"], env, tmp_path)
    try:
        answer = await BrazeCaller(session, simulator.url).track(attrs({"external_id": "u1"}), key="component-key")
        assert answer.status == 201
        listening = [e for e in simulator.log_events() if e.get("event") == "listening"]
        assert listening[0]["component"] == "braze-sim"
        assert listening[0]["port"] == simulator.port
    finally:
        assert await simulator.stop() == 0
    assert "component-key" not in simulator.log_path.read_text()
