"""``dlq stats`` and ``dlq list``: what is in the dead-letter queue, summed up or line by line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from komo_braze.deadletter import DeadLetter
from komo_braze.envelope import format_time
from komo_braze.terminal import cell, printable
from worker.dlq.mask import mask_text

DETAIL_CHARS = 60


@dataclass
class Stats:
    """Totals of the letters read; ``depth`` is what the queue held when the read started."""

    depth: int = 0
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_hub: Counter[str] = field(default_factory=Counter)
    by_workspace: Counter[str] = field(default_factory=Counter)
    replayed_before: int = 0  # letters that already went through a replay once or more
    oldest: datetime | None = None
    newest: datetime | None = None
    complete: bool = True  # False when the queue was deeper than one read can hold

    def add(self, letter: DeadLetter) -> None:
        self.total += 1
        self.by_kind[letter.kind] += 1
        self.by_hub[letter.hub_id or "(none)"] += 1
        self.by_workspace[letter.workspace or "(none)"] += 1
        if letter.replay_count:
            self.replayed_before += 1
        if letter.failed_at is not None:
            if self.oldest is None or letter.failed_at < self.oldest:
                self.oldest = letter.failed_at
            if self.newest is None or letter.failed_at > self.newest:
                self.newest = letter.failed_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth_at_start": self.depth,
            "total": self.total,
            "complete": self.complete,
            "by_kind": dict(self.by_kind.most_common()),
            "by_hub": dict(self.by_hub.most_common()),
            "by_workspace": dict(self.by_workspace.most_common()),
            "replayed_before": self.replayed_before,
            "oldest_failure": format_time(self.oldest) if self.oldest else None,
            "newest_failure": format_time(self.newest) if self.newest else None,
        }


def render_stats(stats: Stats, queue_name: str, console: Console, *, top: int = 20) -> None:
    """Readable tables: totals, then counts by kind, hub and workspace (the ``top`` largest of each)."""
    summary = Table(title=f"dead letters in {queue_name}", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("total", f"{stats.total:,}")
    summary.add_row("replayed before", f"{stats.replayed_before:,}")
    summary.add_row("oldest failure", format_time(stats.oldest) if stats.oldest else "-")
    summary.add_row("newest failure", format_time(stats.newest) if stats.newest else "-")
    console.print(summary)
    for title, counts in (("kind", stats.by_kind), ("hub", stats.by_hub), ("workspace", stats.by_workspace)):
        if not counts:
            continue
        table = Table(title=f"by {title}")
        table.add_column(title)
        table.add_column("letters", justify="right")
        table.add_column("share", justify="right")
        for name, count in counts.most_common(top):
            table.add_row(cell(name), f"{count:,}", f"{count / stats.total:.1%}")
        if len(counts) > top:
            table.add_row(f"... {len(counts) - top} more", "", "")
        console.print(table)
    if not stats.complete:
        console.print(
            f"[yellow]read {stats.total:,} of {stats.depth:,} letters: the queue is deeper than one read can "
            "hold; the totals cover the oldest ones[/yellow]"
        )


def list_row(letter: DeadLetter, *, reveal: bool = False) -> dict[str, Any]:
    """One line of ``dlq list``; the detail is shortened and masked unless ``reveal``."""
    detail = " ".join(letter.detail.split())
    if not reveal:
        detail = mask_text(detail)
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    return {
        "submission_id": letter.submission_id,
        "hub_id": letter.hub_id,
        "workspace": letter.workspace,
        "kind": letter.kind,
        "detail": detail,
        "failed_at": format_time(letter.failed_at) if letter.failed_at else None,
        "replay_count": letter.replay_count,
    }


LIST_COLUMNS = (("submission_id", 36), ("hub_id", 36), ("kind", 18), ("failed_at", 24), ("detail", 0))


def list_header() -> str:
    return " ".join(name.upper().ljust(width) for name, width in LIST_COLUMNS).rstrip()


def list_line(row: dict[str, Any]) -> str:
    """One fixed-width line per letter: streams, so a million letters print as they are read."""
    return " ".join(printable(str(row[name] or "-")).ljust(width) for name, width in LIST_COLUMNS).rstrip()
