"""``komo-braze producer`` and ``komo-braze publish``: the only place the producer handles signals
(:func:`komo_braze.shutdown.signal_shutdown`; a second signal is ignored while the first one's stop goes on)."""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO

import click
from rich.console import Console

from komo_braze import logs
from komo_braze.cli import settings_from
from komo_braze.logs import get_logger
from komo_braze.settings import Settings
from komo_braze.shutdown import signal_shutdown

log = get_logger(__name__)


def _configure_logs(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)


async def _run_producer(settings: Settings) -> None:
    from producer.app import serve

    with signal_shutdown(second_signal="ignore") as shutdown:
        await serve(settings, shutdown)


@click.command("producer")
@click.option("--bind", help="intake host:port (KOMO_BRAZE_PRODUCER_BIND)")
@click.option("--prefix", help="prefix of the broker objects (KOMO_BRAZE_PREFIX)")
def producer_command(bind: str | None, prefix: str | None) -> None:
    """Run the webhook intake: POST /v1/submissions, /healthz, /readyz, /metrics.

    SIGTERM or SIGINT: stop accepting, finish the publishes in progress, close (a second signal: ignored).
    """
    settings = settings_from(producer_bind=bind, prefix=prefix)
    _configure_logs(settings)
    asyncio.run(_run_producer(settings))


@click.command("publish")
@click.argument("source", type=click.File("rb"), metavar="FILE|-")
@click.option("--prefix", help="prefix of the broker objects (KOMO_BRAZE_PREFIX)")
@click.option(
    "--max-in-flight",
    default=256,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="publishes awaiting their confirm at once",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="show a progress bar (default: when stderr is a terminal)",
)
def publish_command(source: BinaryIO, prefix: str | None, max_in_flight: int, show_progress: bool | None) -> None:
    """Publish NDJSON Komo bodies (one per line) with confirms, e.g. a backfill.

    A bad line is reported with its line number and skipped; the exit status is 1 if any line failed.
    """
    from producer.backfill import publish_ndjson

    settings = settings_from(prefix=prefix)
    _configure_logs(settings)
    console = Console(stderr=True)
    status = asyncio.run(
        publish_ndjson(
            settings,
            source,
            console=console,
            summary_console=Console(),
            max_in_flight=max_in_flight,
            show_progress=console.is_terminal if show_progress is None else show_progress,
        )
    )
    sys.exit(status)
