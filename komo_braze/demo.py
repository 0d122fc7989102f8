"""``komo-braze demo``: the pipeline on this machine, with a summary.

Every component runs as a real ``komo-braze`` subprocess on a free port, under a prefix of the demo's
own, which is deleted at the end unless ``--keep``. Today the demo runs the intake: it posts realistic
Komo submissions (and a few malformed ones) concurrently, then reports what was accepted and what sits
on the work queue. The worker and the Braze stand-in join as further components of :class:`DemoRun`.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from komo_braze import topology
from komo_braze.amqp import connect, redact_url
from komo_braze.cli import settings_from
from komo_braze.components import Component, ComponentFailed, component_env, start_component
from komo_braze.loadgen import PostReport, post_submissions
from komo_braze.samples import SampleFactory
from komo_braze.settings import Settings


@dataclass
class DemoRun:
    settings: Settings
    console: Console
    log_dir: Path
    components: list[Component] = field(default_factory=list)

    async def start(self, name: str, args: list[str], **env: str) -> Component:
        """Start one component (its settings as ``KOMO_BRAZE_*`` variables) and wait until it is ready."""
        with self.console.status(f"starting {name}"):
            component = await start_component(
                name,
                args,
                component_env(amqp_url=self.settings.amqp_url_str, prefix=self.settings.prefix, **env),
                self.log_dir,
            )
        self.components.append(component)
        self.console.print(f"[green]✓[/green] {name} ready on {component.url} (pid {component.process.pid})")
        return component

    async def stop_all(self) -> dict[str, int]:
        """Stop the components in reverse order of starting; returns their exit statuses."""
        statuses = {}
        for component in reversed(self.components):
            statuses[component.name] = await component.stop()
        return statuses

    async def work_queue_depth(self) -> int | None:
        connection = await connect(self.settings, "demo")
        async with connection:
            counts = await topology.queue_counts(connection, topology.Names(self.settings.prefix).work_queue())
        return counts[0] if counts else None

    async def clean_up(self) -> None:
        connection = await connect(self.settings, "demo")
        async with connection:
            await topology.delete(await connection.channel(), self.settings.prefix)


async def post_with_progress(
    console: Console, url: str, bodies: list[bytes], token: str, concurrency: int
) -> PostReport:
    columns = (
        TextColumn("posting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[accepted]} accepted"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("post", total=len(bodies), accepted=0)
        accepted = 0

        def on_answer(status: int) -> None:
            nonlocal accepted
            accepted += status == 202
            progress.update(task, advance=1, accepted=accepted)

        return await post_submissions(
            f"{url}/v1/submissions",
            bodies,
            headers={"Authorization": f"Bearer {token}"},
            concurrency=concurrency,
            on_answer=on_answer,
        )


def summary_table(
    report: PostReport, *, count: int, malformed: int, queue_depth: int | None, exits: dict[str, int]
) -> Table:
    table = Table(title="demo summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_column("expected", justify="right")
    table.add_row("submissions posted", str(report.posted), str(count + malformed))
    table.add_row("accepted (202, confirmed by the broker)", str(report.accepted), str(count))
    table.add_row("rejected (4xx: the malformed ones)", str(report.rejected), str(malformed))
    table.add_row("failed (5xx or no answer)", str(report.failed), "0")
    table.add_row("intake rate", f"{report.accepted_per_s:,.0f} accepted/s", "")
    table.add_row(
        "latency p50 / p95",
        f"{report.latency_percentile_s(0.5) * 1000:.1f} / {report.latency_percentile_s(0.95) * 1000:.1f} ms",
        "",
    )
    table.add_row("work queue depth", "missing" if queue_depth is None else str(queue_depth), str(count))
    for name, status in exits.items():
        table.add_row(f"{name} exit status (SIGTERM)", str(status), "0")
    return table


async def run_demo(settings: Settings, *, count: int, malformed: int, concurrency: int, keep: bool) -> int:
    console = Console()
    console.print(f"komo-braze demo: prefix [bold]{settings.prefix}[/bold] on {redact_url(settings.amqp_url_str)}")
    log_dir = Path(tempfile.mkdtemp(prefix="komo-braze-demo-"))
    run = DemoRun(settings, console, log_dir)
    token = secrets.token_urlsafe(24)
    ok = False
    try:
        producer = await run.start("producer", ["producer"], producer_bind="127.0.0.1:0", webhook_token=token)
        samples = SampleFactory()
        bodies = [orjson.dumps(samples.submission(n)) for n in range(count)]
        bodies += [orjson.dumps(samples.malformed(count + n)) for n in range(malformed)]
        console.print(
            f"posting {count} realistic Komo submissions and {malformed} malformed ones "
            f"from {concurrency} concurrent clients"
        )
        report = await post_with_progress(console, producer.url, bodies, token, concurrency)
        depth = await run.work_queue_depth()
        exits = await run.stop_all()
        console.print(summary_table(report, count=count, malformed=malformed, queue_depth=depth, exits=exits))
        ok = (report.accepted, report.rejected, report.failed, depth) == (count, malformed, 0, count)
        ok = ok and all(status == 0 for status in exits.values())
        console.print(
            f"The {report.accepted} accepted submissions wait on {topology.Names(settings.prefix).work_queue()}: "
            "the worker is not part of the demo yet."
        )
    except ComponentFailed as exc:
        console.print(f"[red]demo failed[/red]: {exc}")
    finally:
        await run.stop_all()
        if keep:
            console.print(f"kept prefix {settings.prefix} and the logs in {log_dir}")
        else:
            await run.clean_up()
            if ok:
                shutil.rmtree(log_dir, ignore_errors=True)
            else:
                console.print(f"logs kept in {log_dir}")
    console.print("[green]demo passed[/green]" if ok else "[red]demo did not go as expected[/red]")
    return 0 if ok else 1


@click.command("demo")
@click.option(
    "--count", default=500, show_default=True, type=click.IntRange(1, 1_000_000), help="good submissions to post"
)
@click.option(
    "--malformed", default=5, show_default=True, type=click.IntRange(0, 1000), help="malformed ones mixed in (400)"
)
@click.option("--concurrency", default=32, show_default=True, type=click.IntRange(1, 1024), help="concurrent clients")
@click.option("--prefix", help="prefix of the broker objects (default: a fresh demo-… prefix)")
@click.option("--keep", is_flag=True, help="keep the prefix's broker objects and the component logs")
def demo_command(count: int, malformed: int, concurrency: int, prefix: str | None, keep: bool) -> None:
    """Run the pipeline on this machine with realistic Komo submissions, then print a summary."""
    settings = settings_from(prefix=prefix or f"demo-{uuid.uuid4().hex[:8]}")
    sys.exit(asyncio.run(run_demo(settings, count=count, malformed=malformed, concurrency=concurrency, keep=keep)))
