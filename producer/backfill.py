"""``komo-braze publish FILE|-``: NDJSON Komo bodies onto the broker, with the intake's envelope and confirms.

One Komo body per line. A line that is not a usable body (not JSON, not an object, no id or ``site_id``)
is reported with its line number and skipped; blank lines are ignored; everything else is published
with confirms, many at once. The exit status is 1 if any line failed, so a backfill script notices.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from typing import BinaryIO

import orjson
from rich.console import Console

from komo_braze.bulk import Item, Outgoing, RetryPolicy, Unusable, numbered_lines, publish_all
from komo_braze.bulk_view import bulk_progress, print_summary
from komo_braze.envelope import Envelope, EnvelopeError
from komo_braze.logs import get_logger
from komo_braze.publishing import ConfirmPublisher, envelope_message
from komo_braze.settings import Settings

log = get_logger(__name__)

#: how long to wait for the broker before giving up on the whole run
CONNECT_WAIT_S = 30.0


def parse_line(position: int, line: bytes) -> Item | None:
    """The item for one NDJSON line, or ``None`` for a blank line."""
    size = len(line)
    if not line.strip():
        return None
    try:
        payload = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Unusable(position, "not valid JSON", size)
    try:
        envelope = Envelope.from_komo(payload)
    except EnvelopeError as exc:
        return Unusable(position, exc.reason, size)
    return Outgoing(position, envelope_message(envelope), envelope.routing_key, size)


async def read_items(stream: BinaryIO) -> AsyncIterator[Item]:
    """Items from an NDJSON stream, read in a thread a batch of lines at a time."""
    async for position, line in numbered_lines(stream):
        item = parse_line(position, line)
        if item is not None:
            yield item


def regular_file_size(stream: BinaryIO) -> int | None:
    """The size of a regular file (for a progress bar in bytes); ``None`` for a pipe or terminal."""
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


async def publish_ndjson(
    settings: Settings,
    stream: BinaryIO,
    *,
    console: Console,
    summary_console: Console,
    max_in_flight: int,
    show_progress: bool,
) -> int:
    """Publish every line of ``stream``; returns the exit status (0 all published, 1 anything failed).

    Progress and bad lines go to ``console`` (stderr), the summary to ``summary_console`` (stdout).
    """
    publisher = ConfirmPublisher(settings, "publish")
    publisher.start()
    try:
        await publisher.wait_ready_or_fail(CONNECT_WAIT_S)
        with bulk_progress(
            console, total_bytes=regular_file_size(stream), enabled=show_progress, noun="line"
        ) as progress:
            report = await publish_all(
                publisher,
                read_items(stream),
                max_in_flight=max_in_flight,
                policy=RetryPolicy(ready_wait_s=CONNECT_WAIT_S),
                on_outcome=progress,
            )
    finally:
        await publisher.close()
    log.info(
        "publish_finished",
        published=report.published,
        republished=report.republished,
        failed=report.failed,
        duration_s=report.duration_s,
    )
    print_summary(summary_console, report, title=f"published to {settings.prefix}", noun="line")
    return 1 if report.failed else 0
