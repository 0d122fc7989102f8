"""``komo-braze braze-sim``: the local stand-in for Braze ``/users/track``, for people and tools.

The first line on stdout is ``braze-sim listening on http://HOST:PORT`` (with the real port when
``--bind`` names port 0), then one line per request, then a summary when SIGINT or SIGTERM stops it.
Like every component it also logs a ``listening`` event with its ``port`` (structlog, on stderr) and
serves ``/healthz``, ``/readyz`` and ``/metrics``, so :mod:`devtools.components` can run it.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

import click

from braze_sim.app import create_app
from braze_sim.config import DEFAULT_RATE_LIMIT, FaultSpec, ObjectLimitMode, OutageMode, SimConfig
from braze_sim.hostile import DEFAULT_REDIRECT_TO, HostileKind, parse_kinds
from braze_sim.requestlog import RequestLineLog
from braze_sim.simulator import SIM_KEY, Simulator
from komo_braze import logs
from komo_braze.cli import settings_from
from komo_braze.gc_tuning import tune_gc
from komo_braze.http import start_site
from komo_braze.logs import get_logger
from komo_braze.settings import HostPort, Settings
from komo_braze.shutdown import signal_shutdown

log = get_logger(__name__)

DEFAULT_BIND = "127.0.0.1:9911"
#: hanging requests are released at shutdown; others finish well within this
SHUTDOWN_TIMEOUT_S = 5.0
DEFAULT_KEY = "test-key"


def summary(simulator: Simulator) -> str:
    """A few lines on what the simulator saw, for the end of a run."""
    stats = simulator.state.stats()
    by_status = ", ".join(f"{status}: {count}" for status, count in stats["by_status"].items()) or "none"
    objects, rejected = stats["objects"], stats["rejected_objects"]
    return "\n".join(
        [
            f"braze-sim summary: {stats['requests']} requests in {stats['uptime_s']:.1f} s ({by_status})",
            "  objects: " + ", ".join(f"{name} {objects[name]} ({rejected[name]} rejected)" for name in objects),
            f"  rate limited (429): {stats['rate_limited']}",
            "  profiles: " + ", ".join(f"{name} {count}" for name, count in stats["profiles"].items()),
            f"  events kept: {len(simulator.state.events)}, purchases kept: {len(simulator.state.purchases)}",
        ]
    )


async def serve(
    config: SimConfig, bind: HostPort, shutdown: asyncio.Event, out: TextIO, *, request_lines: bool
) -> Simulator:
    """Serve until ``shutdown`` is set; returns the simulator for the summary."""
    app = create_app(config)
    simulator = app[SIM_KEY]
    lines = RequestLineLog(out)
    if request_lines:
        simulator.listeners.append(lines)
    runner, port = await start_site(app, bind.host, bind.port, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S)
    shown = HostPort(bind.host, port)
    out.write(f"braze-sim listening on http://{shown}\n")
    out.flush()
    log.info(
        "listening",
        component="braze-sim",
        host=bind.host,
        port=port,
        workspaces=[w.name for w in config.workspaces],
        rate_limit=config.rate_limit,
        mode=config.mode.value,
        faults=simulator.faults.active,
    )
    flusher = asyncio.create_task(lines.run())
    try:
        await shutdown.wait()
    finally:
        await asyncio.shield(runner.cleanup())
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
    return simulator


async def _main(config: SimConfig, bind: HostPort, *, line_log: bool, gc_tuning: bool) -> None:
    tune_gc(gc_tuning)
    with signal_shutdown(second_signal="ignore") as shutdown:
        simulator = await serve(config, bind, shutdown, sys.stdout, request_lines=line_log)
    stats = simulator.state.stats()
    log.info("stopped", component="braze-sim", requests=stats["requests"], by_status=stats["by_status"])
    sys.stdout.write(summary(simulator) + "\n")
    sys.stdout.flush()


def _default_key(settings: Settings) -> str:
    """The worker's own key (``KOMO_BRAZE_BRAZE_API_KEY``) when set, so that both agree out of the box."""
    key = settings.braze_api_key
    return key.get_secret_value() if key is not None else DEFAULT_KEY


def _statuses(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter("expected codes like 500,502,503") from None


def _kinds(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[HostileKind, ...]:
    try:
        return parse_kinds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("braze-sim")
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="host:port to listen on (port 0: any free)")
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help=f"accepted key, one per workspace: KEY or NAME=KEY [KOMO_BRAZE_BRAZE_API_KEY, else {DEFAULT_KEY}]",
)
@click.option("--rate-limit", default=DEFAULT_RATE_LIMIT, show_default=True, help="requests per window, per key")
@click.option("--mode", type=click.Choice([m.value for m in ObjectLimitMode]), default="combined", show_default=True,
              help="75 objects in all, or 75 per array (legacy accounts)")  # fmt: skip
@click.option("--error-rate", type=float, default=0.0, help="share of answers that are 5xx (0..1)")
@click.option("--error-statuses", default="500,502,503", show_default=True, callback=_statuses)
@click.option("--latency-ms", type=float, default=0.0, help="latency added to every answer")
@click.option("--latency-jitter-ms", type=float, default=0.0, help="random latency added, up to this")
@click.option("--hang-rate", type=float, default=0.0, help="share of requests never answered")
@click.option("--unauthorized-for", "unauthorized_for_s", type=float, default=0.0, help="answer 401 for N s")
@click.option("--forbidden-for", "forbidden_for_s", type=float, default=0.0, help="answer 403 for N s")
@click.option("--outage-for", "outage_for_s", type=float, default=0.0, help="be down for N s from start")
@click.option("--outage-mode", type=click.Choice([m.value for m in OutageMode]), default="503", show_default=True,
              help="503 answers (as behind a load balancer) or dropped connections")  # fmt: skip
@click.option(
    "--storm-429-for", "storm_429_for_s", type=float, default=0.0, help="answer 429 for N s, whatever the window"
)
@click.option("--hostile-rate", type=float, default=0.0,
              help="hostile mode: share of requests (0..1) given a hostile answer drawn from --hostile-kinds: "
              "non-JSON or truncated 2xx, NaN/negative/huge/far-future rate-limit headers, absurd Retry-After, "
              "redirects, resets, hangs, 5xx, 429s; the rest are answered normally")  # fmt: skip
@click.option("--hostile-kinds", default="", callback=_kinds, metavar="KIND,...",
              help=f"kinds drawn from, comma-separated [all]: {', '.join(k.value for k in HostileKind)}")  # fmt: skip
@click.option("--hostile-hang", "hostile_hang_s", type=float, default=2.0, show_default=True,
              help="seconds a hostile hang lasts before the connection is closed")  # fmt: skip
@click.option("--redirect-to", default=DEFAULT_REDIRECT_TO, show_default=True, help="where hostile redirects point")
@click.option("--keep", "max_kept_records", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="events, purchases and request-log entries kept (oldest dropped; stats count all)")  # fmt: skip
@click.option("--seed", type=int, default=None, help="seed of the random faults, for repeatable runs")
@click.option("--quiet", is_flag=True, help="no line per request")
def braze_sim_command(
    bind: str,
    api_keys: tuple[str, ...],
    rate_limit: str,
    mode: str,
    max_kept_records: int,
    seed: int | None,
    quiet: bool,
    **faults: Any,
) -> None:
    """Run a local stand-in for Braze POST /users/track: Braze's checks, limits and failures, no real workspace.

    Point the worker at it with KOMO_BRAZE_BRAZE_URL=http://127.0.0.1:9911 and KOMO_BRAZE_BRAZE_API_KEY set to
    one of the --api-key values; read what it holds at /_sim/profiles, /_sim/events and /_sim/stats.
    """
    settings = settings_from()
    logs.configure(settings.log_level, settings.log_format)
    try:
        host_port = HostPort.parse(bind)
        config = SimConfig.from_keys(
            api_keys or (_default_key(settings),),
            rate_limit=rate_limit,
            mode=ObjectLimitMode(mode),
            faults=FaultSpec.from_mapping(faults),
            seed=seed,
            max_kept_records=max_kept_records,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    asyncio.run(_main(config, host_port, line_log=not quiet, gc_tuning=settings.gc_tuning))
