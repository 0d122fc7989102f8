"""``komo-braze worker``: the only place of the worker that installs signal handlers.

The first SIGTERM or SIGINT starts the orderly shutdown (stop consuming, send what is held, wait for
in-flight requests up to ``KOMO_BRAZE_SHUTDOWN_GRACE_S``); a second one exits at once, and the broker
redelivers whatever was not acked.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import click

from komo_braze.cli import settings_from
from komo_braze.failures import ConfigurationInvalid
from komo_braze.logs import configure, get_logger
from komo_braze.settings import Settings

log = get_logger(__name__)

#: exit status of an immediate exit on the second signal (128 + SIGTERM, as a shell would report)
FORCED_EXIT_STATUS = 128 + signal.SIGTERM
#: a worker allocates a few dozen small containers per message, nearly all freed by reference counting:
#: collect young garbage less often, so that the collector's passes cost less than the messages
GC_THRESHOLDS = (50_000, 20, 100)


async def _main(settings: Settings, mapping_path: Path, workspaces: tuple[str, ...]) -> None:
    from worker.mapping import load_mapping
    from worker.service import serve

    mapping = load_mapping(mapping_path)
    # what start-up made (modules, settings, the compiled mapping) lives as long as the process: out of
    # every collection from now on
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if shutdown.is_set():
            log.warning("forced_exit", signal=signal.Signals(signum).name)
            os._exit(FORCED_EXIT_STATUS)  # no clean-up on purpose: the broker requeues what is unacked
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        shutdown.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    environ = dict(os.environ)  # noqa: TID251 - workspace keys are named by the mapping file (`api_key_env`)
    await serve(settings, mapping, shutdown, environ=environ, workspaces=workspaces)


@click.command("worker")
@click.option("--mapping", "mapping_path", type=click.Path(path_type=Path), help="mapping file (KOMO_BRAZE_MAPPING)")
@click.option("--metrics-bind", help="host:port of /metrics and health (KOMO_BRAZE_WORKER_METRICS_BIND)")
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="NAME",
    help="consume only this workspace's queue (repeatable; default: every workspace of the mapping)",
)
def worker_command(mapping_path: Path | None, metrics_bind: str | None, workspaces: tuple[str, ...]) -> None:
    """Consume submissions, map them, and deliver them to Braze /users/track.

    With --workspace, only those workspaces' queues are consumed and only their Braze settings are
    needed (the `default` queue also carries the hubs that the mapping's "*" entry sends elsewhere).
    """
    settings = settings_from(mapping=mapping_path, worker_metrics_bind=metrics_bind)
    configure(settings.log_level, settings.log_format)
    if settings.mapping is None:
        raise click.UsageError("KOMO_BRAZE_MAPPING (or --mapping) is required")
    from worker.mapping import MappingFileError

    try:
        asyncio.run(_main(settings, settings.mapping, workspaces))
    except MappingFileError as exc:
        raise ConfigurationInvalid(str(exc)) from None
