"""``komo-braze demo``: the pipeline on this machine, with a summary.

Every component runs as a real ``komo-braze`` subprocess on a free port, under a prefix of the demo's
own, which is deleted at the end unless ``--keep``: braze_sim (Braze's real limit, a few injected 5xx,
some latency), the producer and a worker. The demo posts realistic Komo submissions concurrently (users
repeat; a few carry a bad email or phone, a few no usable identifier; a few are malformed), follows
the worker until every accepted one is delivered or dead-lettered, and ends with a summary table.
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

import aiohttp
import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from devtools.components import (
    Component,
    ComponentFailed,
    component_env,
    start_braze_sim,
    start_component,
    stop_process,
)
from devtools.demo_delivery import (
    SIM_API_KEY,
    SIM_FAULTS,
    WorkerFigures,
    read_worker,
    with_flaws,
)
from devtools.loadgen import PostReport, post_submissions
from devtools.samples import SAMPLE_MAPPING, SampleFactory
from komo_braze import topology
from komo_braze.addresses import redact
from komo_braze.amqp import connect
from komo_braze.cli import settings_from
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


async def follow_delivery(console: Console, worker_url: str, expected: int, timeout_s: float) -> WorkerFigures:
    """Show delivery progress until the worker has settled ``expected`` messages (or ``timeout_s``)."""
    columns = (TextColumn("delivering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task("deliver", total=expected)
            while True:
                figures = await read_worker(session, worker_url)
                progress.update(task, completed=min(expected, int(figures.settled)))
                if figures.settled >= expected or loop.time() > deadline:
                    return figures
                await asyncio.sleep(0.2)


def delivery_rows(table: Table, figures: WorkerFigures, *, duration_s: float, sim_5xx: str) -> None:
    requests = sum(figures.requests_by_status.values())
    objects_count = figures.value("request_objects_count")
    table.add_row("Braze requests (by status)", f"{requests:.0f} ({_by_status(figures)})", "")
    table.add_row(
        "objects per request",
        f"{figures.value('request_objects_sum') / objects_count:.1f}" if objects_count else "-",
        "≤ 75",
    )
    table.add_row("delivered to Braze", f"{figures.settled - sum(figures.dead_letters.values()):.0f}", "")
    table.add_row("coalesced updates", f"{figures.value('coalesced_updates_total'):.0f}", "")
    table.add_row("429 pauses", f"{figures.value('rate_limit_pauses_total'):.0f}", "few")
    table.add_row("retries (injected 5xx: " + sim_5xx + ")", f"{figures.value('retries_total'):.0f}", "")
    table.add_row("fields dropped (bad email/phone ...)", f"{figures.value('rejected_fields_total'):.0f}", "")
    letters = ", ".join(f"{reason} {count:.0f}" for reason, count in sorted(figures.dead_letters.items()))
    table.add_row("dead letters by reason", letters or "none", "no_identifier, invalid_identifier")
    if duration_s > 0:
        table.add_row("delivery throughput", f"{figures.settled / duration_s:,.0f} submissions/s", "")
    p50, p99 = figures.latency_quantile_s(0.5), figures.latency_quantile_s(0.99)
    if p50 is not None and p99 is not None:
        table.add_row("end-to-end latency p50 / p99 (≤ bucket)", f"{p50:g} / {p99:g} s", "")


def _by_status(figures: WorkerFigures) -> str:
    return ", ".join(f"{status}: {count:.0f}" for status, count in sorted(figures.requests_by_status.items()))


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
    table.add_row("work queue depth at the end", "missing" if queue_depth is None else str(queue_depth), "0")
    for name, status in exits.items():
        table.add_row(f"{name} exit status (SIGTERM)", str(status), "0")
    return table


async def run_demo(settings: Settings, *, count: int, malformed: int, concurrency: int, keep: bool) -> int:
    console = Console() if sys.stdout.isatty() else Console(width=120)  # a log or a pipe: no wrapped rows
    console.print(f"komo-braze demo: prefix [bold]{settings.prefix}[/bold] on {redact(settings.amqp_urls)}")
    log_dir = Path(tempfile.mkdtemp(prefix="komo-braze-demo-"))
    run = DemoRun(settings, console, log_dir)
    token = secrets.token_urlsafe(24)
    ok = False
    sim: asyncio.subprocess.Process | None = None
    try:
        sim, sim_url = await start_braze_sim(log_dir, SIM_API_KEY, *SIM_FAULTS)
        console.print(f"[green]✓[/green] braze-sim ready on {sim_url} (limit 3000/3s, 5% injected 5xx)")
        mapping = log_dir / "mapping.yaml"
        mapping.write_text(SAMPLE_MAPPING)
        worker = await run.start(
            "worker",
            ["worker"],
            braze_url=sim_url,
            braze_api_key=SIM_API_KEY,
            mapping=str(mapping),
            worker_metrics_bind="127.0.0.1:0",
        )
        producer = await run.start("producer", ["producer"], producer_bind="127.0.0.1:0", webhook_token=token)
        samples = SampleFactory()
        bodies = [orjson.dumps(with_flaws(samples.submission(n), n)) for n in range(count)]
        bodies += [orjson.dumps(samples.malformed(count + n)) for n in range(malformed)]
        console.print(
            f"posting {count} realistic Komo submissions and {malformed} malformed ones "
            f"from {concurrency} concurrent clients"
        )
        started = asyncio.get_running_loop().time()
        report = await post_with_progress(console, producer.url, bodies, token, concurrency)
        figures = await follow_delivery(console, worker.url, report.accepted, timeout_s=120 + count / 50)
        duration_s = asyncio.get_running_loop().time() - started
        depth = await run.work_queue_depth()
        exits = await run.stop_all()
        table = summary_table(report, count=count, malformed=malformed, queue_depth=depth, exits=exits)
        delivery_rows(table, figures, duration_s=duration_s, sim_5xx="5%")
        console.print(table)
        expected_letters = {"no_identifier", "invalid_identifier"}
        ok = (report.accepted, report.rejected, report.failed, depth) == (count, malformed, 0, 0)
        ok = ok and figures.settled >= report.accepted and set(figures.dead_letters) <= expected_letters
        ok = ok and all(status == 0 for status in exits.values())
        dead = topology.Names(settings.prefix).dead_queue
        console.print(
            f"Dead letters wait on {dead}: look at them with "
            f"`KOMO_BRAZE_PREFIX={settings.prefix} komo-braze dlq list` (and `dlq show`)"
            + ("" if keep else "; run the demo with --keep to keep them after it ends")
            + "."
        )
    except (ComponentFailed, RuntimeError, TimeoutError) as exc:
        console.print(f"[red]demo failed[/red]: {exc}")
    finally:
        await run.stop_all()
        if sim is not None:
            await stop_process(sim, timeout_s=10)
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
