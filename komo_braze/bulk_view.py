"""How a bulk publish looks on a terminal: a progress bar while it runs, problems as they happen, and
a summary table at the end (``komo-braze publish``, ``komo-braze dlq import``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from komo_braze.bulk import BulkReport, Item
from komo_braze.terminal import printable

#: failures listed one by one in the summary; more are counted (each was reported as it happened)
MAX_LISTED_FAILURES = 20


class BulkProgress:
    """Counts outcomes and shows them; a problem line is printed above the bar, with its position."""

    def __init__(
        self, console: Console, progress: Progress | None, task: TaskID | None, noun: str, *, by_bytes: bool = False
    ) -> None:
        self._console = console
        self._by_bytes = by_bytes
        self._progress = progress
        self._task = task
        self._noun = noun
        self.done = 0

    def __call__(self, item: Item, reason: str | None) -> None:
        self.done += 1
        if reason is not None:
            target = self._progress.console if self._progress is not None else self._console
            line = Text(f"{self._noun} {item.position}", style="red") + Text(f": {printable(reason)}")
            target.print(line, highlight=False)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=item.size_bytes if self._by_bytes else 1, published=self.done)


@contextmanager
def bulk_progress(console: Console, *, total_bytes: int | None, enabled: bool, noun: str) -> Iterator[BulkProgress]:
    """A progress bar over ``total_bytes`` of input (a spinner when unknown), if ``enabled``."""
    if not enabled:
        yield BulkProgress(console, None, None, noun)
        return
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]publishing"),
        BarColumn(),
        DownloadColumn() if total_bytes else MofNCompleteColumn(),
        TextColumn("{task.fields[published]} done"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("publish", total=total_bytes, published=0)
        yield BulkProgress(console, progress, task, noun, by_bytes=bool(total_bytes))


def print_summary(console: Console, report: BulkReport, *, title: str, noun: str) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("published (confirmed by the broker)", str(report.published))
    if report.republished:
        table.add_row("republished after a lost connection (may arrive twice)", str(report.republished))
    table.add_row(f"failed {noun}s", str(report.failed))
    table.add_row("duration", f"{report.duration_s:.2f} s")
    table.add_row("rate", f"{report.rate_per_s:,.0f} messages/s")
    console.print(table)
    for position, reason in report.failures[:MAX_LISTED_FAILURES]:
        console.print(Text(f"  {noun} {position}: {printable(reason)}"), highlight=False)
    if report.failed > MAX_LISTED_FAILURES:
        console.print(f"  ... and {report.failed - MAX_LISTED_FAILURES} more", highlight=False)
