"""The summaries ``replay``, ``purge`` and ``import`` print at the end (text on stderr, or JSON)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from komo_braze.terminal import cell
from komo_braze.topology import Names
from worker.dlq.change_commands import MAX_NAMED_FAILURES, ImportReport
from worker.dlq.move import Action, MoveReport
from worker.dlq.read_commands import emit_json


def print_move(report: MoveReport, prefix: str, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    console = Console(stderr=True)
    queue = Names(prefix).dead_queue
    if report.action is Action.DRY_RUN:
        console.print(
            f"dry run: {report.matched:,} of {report.scanned:,} dead letters read would move; nothing changed"
        )
        if report.matched:
            table = Table(title="would move, by kind and hub")
            table.add_column("kind")
            table.add_column("letters", justify="right")
            for kind, count in report.matched_by_kind.most_common():
                table.add_row(cell(kind), f"{count:,}")
            for hub, count in report.matched_by_hub.most_common(10):
                table.add_row(cell(f"hub {hub}"), f"{count:,}")
            console.print(table)
    else:
        verb = "replayed" if report.action is Action.REPLAY else "removed"
        console.print(
            f"{verb} {report.moved:,} dead letters of {report.matched:,} matching "
            f"(read {report.scanned:,}; {report.left:,} stay in {queue}) "
            f"in {report.duration_s:.1f} s ({report.rate_per_s:,.0f}/s)"
        )
        for kind, count in report.moved_by_kind.most_common():
            console.print(cell(f"  {kind}: {count:,}"))
    if report.resumes:
        console.print(
            f"the broker connection was lost {report.resumes} time(s); the run went on over a new one and "
            f"republished {report.republished:,} letters whose first copy may have gone out (they may arrive twice)"
        )
    if report.unroutable:
        console.print(f"{report.unroutable:,} matching letters have no hub to route by; they stay")
    if report.failure:
        console.print(
            f"[red]{report.failed:,} copies were not confirmed ({report.failure}); their dead copies stay. "
            "Run the same command again.[/red]"
        )
    if report.interrupted:
        console.print("[yellow]interrupted: nothing is lost; run the same command again to continue[/yellow]")
    if report.capacity_reached:
        console.print(
            "[yellow]stopped: more non-matching letters than one run can hold in place; narrow the filters "
            "or purge/replay some first[/yellow]"
        )


def print_import(report: ImportReport, *, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    console = Console(stderr=True)
    target = "the dead-letter queue" if report.target == "dlq" else "the work routing"
    console.print(f"imported {report.published:,} letters onto {target} in {report.duration_s:.1f} s")
    if report.failed:
        console.print(f"[red]{report.failed:,} lines failed:[/red]")
        for line_number, reason in report.failures[:MAX_NAMED_FAILURES]:
            console.print(cell(f"  line {line_number}: {reason}"))
        if report.failed > MAX_NAMED_FAILURES:
            console.print(f"  ... and {report.failed - MAX_NAMED_FAILURES:,} more")
    if report.interrupted:
        console.print("[yellow]interrupted: the lines not confirmed were not imported[/yellow]")
