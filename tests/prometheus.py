"""Debian's Prometheus and promtool, for tests: lint an exposition, and run a server of the test's own.

``make test`` installs them (``scripts/ensure-prometheus.sh``); a missing binary fails the test, since a
skipped check would hide exactly what it is there to find. A server gets its own port on loopback, its
own data directory and a short scrape interval, and is stopped (SIGTERM, then SIGKILL) afterwards::

    async with running_prometheus(tmp_path, jobs=[ScrapeJob("worker", f"127.0.0.1:{port}")]) as prom:
        await prom.query('komo_braze_worker_ready')
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from devtools.components import stop_process
from tests.own_broker import free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
REPO = Path(__file__).parents[1]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = REPO / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "komo-braze.json"
START_TIMEOUT_S = 30.0


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool ARGS``; the test fails (never skips) when promtool is not installed."""
    if PROMTOOL is None:
        pytest.fail(
            "promtool is not installed: run `make test` (scripts/ensure-prometheus.sh) or apt-get install prometheus"
        )
    return subprocess.run(
        [PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )


def check_metrics(exposition: str) -> str:
    """``promtool check metrics`` on an exposition: returns its complaints ("" when there are none)."""
    result = promtool("check", "metrics", stdin=exposition)
    return (result.stdout + result.stderr).strip() if result.returncode else ""


@dataclass(frozen=True)
class ScrapeJob:
    name: str
    target: str  # host:port
    path: str = "/metrics"
    params: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RunningPrometheus:
    url: str
    session: aiohttp.ClientSession

    async def _get(self, path: str, **params: str) -> Any:
        async with self.session.get(f"{self.url}{path}", params=params) as response:
            answer = await response.json()
        if answer.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {answer}")
        return answer["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` returns now (``[]``: no data)."""
        data = await self._get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    async def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now, or None when it returns no series."""
        result = await self.query(expr)
        if not result:
            return None
        if len(result) > 1:
            raise AssertionError(f"{expr} returned {len(result)} series, expected one: {result}")
        return float(result[0]["value"][1])

    async def targets_up(self) -> dict[str, str]:
        """``job -> health`` of every active target."""
        data = await self._get("/api/v1/targets")
        return {t["labels"]["job"]: t["health"] for t in data["activeTargets"]}

    async def alerts(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts


def prometheus_config(jobs: Sequence[ScrapeJob], *, interval_s: float, rule_files: Sequence[Path]) -> dict[str, Any]:
    interval = f"{int(interval_s * 1000)}ms"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job.name,
                "metrics_path": job.path,
                "params": job.params,
                "static_configs": [{"targets": [job.target]}],
            }
            for job in jobs
        ],
    }


@asynccontextmanager
async def running_prometheus(
    directory: Path, jobs: Sequence[ScrapeJob], *, interval_s: float = 0.5, rule_files: Sequence[Path] = ()
) -> AsyncIterator[RunningPrometheus]:
    """A Prometheus of the test's own on a free loopback port, scraping ``jobs`` every ``interval_s``."""
    if PROMETHEUS is None:
        pytest.fail(
            "prometheus is not installed: run `make test` (scripts/ensure-prometheus.sh) or apt-get install prometheus"
        )
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(jobs, interval_s=interval_s, rule_files=rule_files)))
    port = free_port()
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await _wait_ready(process, session, url, log_path)
            yield RunningPrometheus(url, session)
    finally:
        await stop_process(process, timeout_s=10)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def _wait_ready(process: asyncio.subprocess.Process, session: aiohttp.ClientSession, url: str, log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"prometheus exited with {process.returncode}:\n{_tail(log)}")
        try:
            async with session.get(f"{url}/-/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"prometheus did not become ready in {START_TIMEOUT_S} s:\n{_tail(log)}")
