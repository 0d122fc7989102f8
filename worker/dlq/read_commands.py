"""The reading ``dlq`` commands (``stats``, ``list``, ``show``, ``export``) as coroutines: each opens a
plain connection, checks the topology exists, reads the dead-letter queue through a
:class:`DeadLetterReader` and reports. The click layer is ``cli.py``; the commands that change something
are in ``change_commands.py``.

The connection is deliberately not a robust one: should it drop, the broker hands every held letter
back (in order) and a reconnection would start a second, overlapping read; the command stops instead
and says so, and running it again is safe.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any

import orjson
from aio_pika.abc import AbstractConnection
from rich.console import Console

from komo_braze import topology
from komo_braze.amqp import connect_once
from komo_braze.settings import Settings
from komo_braze.terminal import printable_json
from worker.dlq.filters import LetterFilter
from worker.dlq.mask import mask
from worker.dlq.progress import ProgressView
from worker.dlq.reader import DeadLetterReader
from worker.dlq.stats import Stats, list_header, list_line, list_row, render_stats
from worker.dlq.transfer import export_line


@asynccontextmanager
async def opened(
    settings: Settings, name: str, *, declare: bool = False
) -> AsyncIterator[tuple[AbstractConnection, topology.Names]]:
    """A plain connection named ``komo-braze dlq <name>``.

    Reading commands change nothing, not even the topology: they check the dead-letter queue exists
    (:class:`komo_braze.failures.TopologyMissing` if not, e.g. a mistyped prefix). ``declare`` is for
    a command that publishes (``replay``).
    """
    connection = await connect_once(settings, f"dlq {name}")
    async with connection:
        if declare:
            channel = await connection.channel()
            await topology.declare(
                channel, settings.prefix, delivery_limit=settings.delivery_limit, replicas=settings.quorum_replicas
            )
            await channel.close()
            names = topology.Names(settings.prefix)
        else:
            names = await topology.require(connection, settings.prefix, [topology.Names(settings.prefix).dead_queue])
        yield connection, names


@asynccontextmanager
async def reading(settings: Settings, name: str) -> AsyncIterator[tuple[DeadLetterReader, topology.Names]]:
    """An open :class:`DeadLetterReader` on the dead-letter queue (handed back in order on exit)."""
    async with (
        opened(settings, name) as (connection, names),
        DeadLetterReader(connection, names.dead_queue) as reader,
    ):
        yield reader, names


def emit_json(data: Any, out: IO[str] | None = None) -> None:
    (out or sys.stdout).write(printable_json(orjson.dumps(data).decode()) + "\n")


async def stats(settings: Settings, *, as_json: bool, shutdown: asyncio.Event) -> Stats:
    """Totals by kind, hub and workspace; the queue is left as it was."""
    async with reading(settings, "stats") as (reader, names):
        totals = Stats(depth=reader.depth)
        with ProgressView("reading", reader.depth) as view:
            async for held in reader.letters():
                totals.add(held.letter)
                view.update(held.position)
                if shutdown.is_set():
                    break
        totals.complete = totals.total >= reader.depth
    if as_json:
        emit_json(totals.to_dict())
    else:
        render_stats(totals, names.dead_queue, Console())
    return totals


async def list_letters(
    settings: Settings, letter_filter: LetterFilter, *, as_json: bool, reveal: bool, shutdown: asyncio.Event
) -> int:
    """One line per matching letter, in queue order; returns how many were listed."""
    listed = 0
    out = sys.stdout
    async with reading(settings, "list") as (reader, _names):
        if not as_json:
            out.write(list_header() + "\n")
        async for held in reader.letters():
            if letter_filter.matches(held.letter):
                row = list_row(held.letter, reveal=reveal)
                out.write((printable_json(orjson.dumps(row).decode()) if as_json else list_line(row)) + "\n")
                listed += 1
            if shutdown.is_set() or (letter_filter.limit is not None and listed >= letter_filter.limit):
                break
    out.flush()
    return listed


async def show(settings: Settings, submission_id: str, *, reveal: bool, shutdown: asyncio.Event) -> int:
    """Print every letter of ``submission_id`` (headers, properties, envelope); returns how many."""
    found: list[dict[str, Any]] = []
    async with reading(settings, "show") as (reader, _names):
        with ProgressView("searching", reader.depth) as view:
            async for held in reader.letters():
                if held.letter.submission_id == submission_id:
                    record = orjson.loads(export_line(held.letter, held.message.header.properties.timestamp))
                    record["position"] = held.position
                    found.append(record if reveal else mask(record))
                view.update(held.position, f"found {len(found)}")
                if shutdown.is_set():
                    break
    for record in found:
        sys.stdout.write(printable_json(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode()) + "\n")
    return len(found)


async def export(
    settings: Settings, letter_filter: LetterFilter, target: IO[bytes], *, shutdown: asyncio.Event
) -> tuple[int, int]:
    """Write the matching letters to ``target`` as NDJSON; returns (exported, read). Nothing is removed."""
    exported = 0
    async with reading(settings, "export") as (reader, _names):
        with ProgressView("exporting", reader.depth) as view:
            async for held in reader.letters():
                if letter_filter.matches(held.letter):
                    target.write(export_line(held.letter, held.message.header.properties.timestamp))
                    exported += 1
                view.update(held.position, f"exported {exported:,}")
                if shutdown.is_set() or (letter_filter.limit is not None and exported >= letter_filter.limit):
                    break
        read = reader.seen
    target.flush()
    return exported, read
