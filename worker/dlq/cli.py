"""``komo-braze dlq``: see what failed and why, fix it, replay it, lose nothing.

Reading commands (``stats``, ``list``, ``show``, ``export``, ``replay --dry-run``) hand every letter
back in its place; ``replay`` acks a dead copy only after the broker confirmed its replayed copy. Any
command can be interrupted (Ctrl-C, ``kill``, a broker restart) and run again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import click

from komo_braze.cli import settings_from
from komo_braze.failures import BrokerUnreachable
from komo_braze.logs import configure
from komo_braze.settings import HostPort, Settings
from komo_braze.shutdown import signal_shutdown
from worker.dlq import change_commands, read_commands
from worker.dlq.filters import LetterFilter, parse_moment
from worker.dlq.metrics import DlqMetrics
from worker.dlq.move import Action
from worker.dlq.reader import QueueBusy
from worker.dlq.report import print_import, print_move

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

STOPPING_NOTICE = (
    "stopping: finishing what is in flight and putting the letters read back in order "
    "(Ctrl-C again to stop at once: nothing is lost, but their order may change)"
)


def run(main: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    """Run ``main(shutdown)``; SIGINT and SIGTERM set ``shutdown``, a second one exits at once (whatever
    is held goes back to the queue by itself)."""

    async def runner() -> T:
        with signal_shutdown(second_signal="exit", notice=STOPPING_NOTICE) as shutdown:
            return await main(shutdown)

    try:
        return asyncio.run(runner())
    except BrokenPipeError:  # `dlq list | head`: the reader is closed, every letter went back in place
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        raise SystemExit(0) from None
    except QueueBusy as exc:
        raise click.ClickException(str(exc)) from None
    except (ConnectionError, OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
        raise BrokerUnreachable(f"broker connection lost: {type(exc).__name__}: {exc}") from None
    except aio_pika.exceptions.AMQPError as exc:  # e.g. a queue declared with other arguments
        raise click.ClickException(f"the broker refused: {exc}") from None


def _moment(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def filter_options(function: F) -> F:
    """--kind --hub --workspace --id (each repeatable), --since/--until, --limit."""
    options = [
        click.option("--kind", "kinds", multiple=True, help="error kind (e.g. braze_rejected); repeatable"),
        click.option("--hub", "hubs", multiple=True, help="hub (Komo site_id); repeatable"),
        click.option("--workspace", "workspaces", multiple=True, help="Braze workspace; repeatable"),
        click.option("--id", "ids", multiple=True, help="submission id; repeatable"),
        click.option("--since", callback=_moment, help="failed at or after: ISO-8601 time or an age (2h, 7d)"),
        click.option("--until", callback=_moment, help="failed at or before: ISO-8601 time or an age"),
        click.option("--limit", type=click.IntRange(min=0), help="act on at most this many matching letters"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def build_filter(**values: Any) -> LetterFilter:
    try:
        return LetterFilter.build(**values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@click.group("dlq")
@click.option("--prefix", help="prefix of the broker objects (KOMO_BRAZE_PREFIX)")
@click.pass_context
def dlq_group(ctx: click.Context, prefix: str | None) -> None:
    """Inspect, export, replay and purge dead letters ({prefix}.dead)."""
    settings = settings_from(prefix=prefix)
    configure(settings.log_level, settings.log_format)
    ctx.obj = settings


@dlq_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> None:
    """Totals by error kind, hub and workspace; oldest and newest failure. Changes nothing."""
    settings = _settings(ctx)
    run(lambda shutdown: read_commands.stats(settings, as_json=as_json, shutdown=shutdown))


@dlq_group.command("list")
@filter_options
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option("--reveal", is_flag=True, help="do not mask emails and phone numbers in the detail")
@click.pass_context
def list_command(ctx: click.Context, /, as_json: bool, reveal: bool, **filters: Any) -> None:
    """One line per dead letter: submission id, hub, kind, detail, failed at. Changes nothing."""
    settings, letter_filter = _settings(ctx), build_filter(**filters)
    run(
        lambda shutdown: read_commands.list_letters(
            settings, letter_filter, as_json=as_json, reveal=reveal, shutdown=shutdown
        )
    )


@dlq_group.command("show")
@click.argument("submission_id")
@click.option("--reveal", is_flag=True, help="do not mask emails and phone numbers")
@click.pass_context
def show_command(ctx: click.Context, submission_id: str, reveal: bool) -> None:
    """The headers and envelope of the dead letter(s) of SUBMISSION_ID. Changes nothing."""
    settings = _settings(ctx)
    found = run(lambda shutdown: read_commands.show(settings, submission_id, reveal=reveal, shutdown=shutdown))
    if not found:
        raise click.ClickException(f"no dead letter for submission {submission_id}")


@dlq_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@filter_options
@click.option("--force", is_flag=True, help="overwrite FILE if it exists")
@click.pass_context
def export_command(ctx: click.Context, /, file: Path, force: bool, **filters: Any) -> None:
    """Write matching dead letters (headers and envelope) to FILE as NDJSON ('-': stdout). Changes nothing."""
    settings, letter_filter = _settings(ctx), build_filter(**filters)
    if str(file) == "-":
        exported, read = run(
            lambda shutdown: read_commands.export(settings, letter_filter, sys.stdout.buffer, shutdown=shutdown)
        )
    else:
        if file.exists() and not force:
            raise click.UsageError(f"{file} exists; pass --force to overwrite it")
        partial = file.with_name(file.name + ".partial")
        with partial.open("wb") as target:
            exported, read = run(
                lambda shutdown: read_commands.export(settings, letter_filter, target, shutdown=shutdown)
            )
        partial.replace(file)
    click.echo(f"exported {exported:,} of {read:,} dead letters read; the queue is unchanged", err=True)


@dlq_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--to-dlq", is_flag=True, help="put the letters back into the dead-letter queue unchanged")
@click.option("--max-in-flight", type=click.IntRange(1, 10_000), default=2000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.pass_context
def import_command(ctx: click.Context, file: Any, to_dlq: bool, max_in_flight: int, as_json: bool) -> None:
    """Publish an export (FILE, '-': stdin) onto the work routing as a replay would, with confirms."""
    settings, metrics = _settings(ctx), DlqMetrics()
    report = run(
        lambda shutdown: change_commands.import_file(
            settings, file, to_dlq=to_dlq, shutdown=shutdown, metrics=metrics, max_in_flight=max_in_flight
        )
    )
    print_import(report, as_json=as_json)
    if report.failed or report.interrupted:
        sys.exit(1)


def _move_command(ctx: click.Context, action: Action, filters: dict[str, Any], **options: Any) -> None:
    settings, metrics = _settings(ctx), DlqMetrics()
    letter_filter = build_filter(**filters)
    as_json = options.pop("as_json")
    report = run(
        lambda shutdown: change_commands.move_letters(
            settings, letter_filter, action, shutdown=shutdown, metrics=metrics, **options
        )
    )
    print_move(report, settings.prefix, as_json=as_json)
    if report.failure or report.interrupted or report.capacity_reached:
        sys.exit(1)


def _bind(_ctx: click.Context, _param: click.Parameter, value: str | None) -> HostPort | None:
    try:
        return HostPort.parse(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@dlq_group.command("replay")
@filter_options
@click.option("--dry-run", is_flag=True, help="print what would move and change nothing")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="at most N messages per second")
@click.option("--max-in-flight", type=click.IntRange(1, 10_000), default=2000, show_default=True)
@click.option("--metrics-bind", callback=_bind, help="serve /metrics on host:port while replaying (port 0: any)")
@click.option("--metrics-linger-s", type=float, default=0.0, help="keep serving /metrics this long after the end")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.pass_context
def replay_command(
    ctx: click.Context,
    /,
    dry_run: bool,
    rate: float | None,
    max_in_flight: int,
    metrics_bind: HostPort | None,
    metrics_linger_s: float,
    as_json: bool,
    **filters: Any,
) -> None:
    """Publish matching dead letters again, routed as new submissions; ack each dead copy once confirmed."""
    _move_command(
        ctx,
        Action.DRY_RUN if dry_run else Action.REPLAY,
        filters,
        rate_per_s=rate,
        max_in_flight=max_in_flight,
        metrics_bind=metrics_bind,
        metrics_linger_s=metrics_linger_s,
        as_json=as_json,
    )


@dlq_group.command("purge")
@filter_options
@click.option("--yes", is_flag=True, help="really remove them (without it: count what would go)")
@click.option("--metrics-bind", callback=_bind, help="serve /metrics on host:port while purging")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.pass_context
def purge_command(
    ctx: click.Context, /, yes: bool, metrics_bind: HostPort | None, as_json: bool, **filters: Any
) -> None:
    """Remove matching dead letters for good (only with --yes); prints how many it removed."""
    if not yes:
        _settings(ctx)  # settings errors first
        click.echo("purge removes dead letters for good: counting what would go (pass --yes to remove)", err=True)
    _move_command(ctx, Action.PURGE if yes else Action.DRY_RUN, filters, metrics_bind=metrics_bind, as_json=as_json)
    if not yes:
        sys.exit(2)
