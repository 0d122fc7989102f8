"""``komo-braze worker``: the only place of the worker that handles signals.

The first SIGTERM or SIGINT starts the orderly shutdown (stop consuming, send what is held, wait for
in-flight requests up to ``KOMO_BRAZE_SHUTDOWN_GRACE_S``); a second one exits at once (``second_signal="exit"``),
and the broker redelivers whatever was not acked.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from komo_braze.cli import settings_from
from komo_braze.failures import ConfigurationInvalid
from komo_braze.gc_tuning import tune_gc
from komo_braze.logs import configure, get_logger
from komo_braze.settings import Settings
from komo_braze.shutdown import signal_shutdown

log = get_logger(__name__)


async def _main(settings: Settings, mapping_path: Path, workspaces: tuple[str, ...]) -> None:
    from worker.mapping import load_mapping
    from worker.service import serve

    mapping = load_mapping(mapping_path)
    tune_gc(settings.gc_tuning)
    environ = dict(os.environ)  # noqa: TID251 - workspace keys are named by the mapping file (`api_key_env`)
    with signal_shutdown(second_signal="exit") as shutdown:
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
