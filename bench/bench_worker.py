"""Worker rate: submissions per second from a full queue into an unthrottled braze_sim, one process.

The baseline, measured in the same run against the same broker over the same messages, is a plain
aio-pika consume-and-ack loop with the same prefetch (no mapping, no batching, no HTTP): the ratio says
how much of the broker's consume rate one ``komo-braze worker`` turns into Braze deliveries. Both rates
are counted from the first ack to the ack that completes 99% of the messages: process start-up is left
out, and so is the worker's last, partial batch, which waits its linger time (250 ms) by design.

With ``--gc-compare`` each round also measures a worker started with ``KOMO_BRAZE_GC_TUNING=false``
(:mod:`komo_braze.gc_tuning`), so that what the tuning buys is a ratio within the same run.

    python -m bench worker [--count 20000] [--users 5000] [--rounds 3] [--gc-compare]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import aiohttp

from devtools.components import Component, component_env, start_braze_sim, start_component, stop_process
from devtools.samples import SAMPLE_MAPPING, SampleFactory
from komo_braze import topology
from komo_braze.amqp import connect
from komo_braze.envelope import Envelope
from komo_braze.publishing import envelope_message
from komo_braze.settings import BatchMode, Settings, load_settings

API_KEY = "bench-key"
#: braze_sim's limit in the benchmarks: out of the way, so that the worker alone is measured
SIM_RATE_LIMIT = "100000000/1s"
PREFETCH = 75 * (8 + 2)  # the worker's own prefetch at its default settings
SHARE = 0.99  # rates are measured up to this share of the messages
POLL_S = 0.01  # the resolution of the worker's measured interval at both ends
POLL_MAX_S = 0.2  # the longest wait between two reads of the worker's ack count


async def fill(settings: Settings, envelopes: list[Envelope]) -> None:
    connection = await connect(settings, "bench-fill")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        declared = await topology.declare(channel, settings.prefix, delivery_limit=settings.delivery_limit)
        for start in range(0, len(envelopes), 500):
            await asyncio.gather(
                *(
                    declared.exchange.publish(envelope_message(e), e.routing_key, mandatory=True)
                    for e in envelopes[start : start + 500]
                )
            )


async def baseline_per_s(settings: Settings, count: int) -> float:
    """A plain aio-pika consume-and-ack loop over ``count`` queued messages."""
    connection = await connect(settings, "bench-baseline")
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.get_queue(topology.Names(settings.prefix).work_queue())
        done = asyncio.Event()
        seen = 0
        first_at = 0.0

        target = int(count * SHARE)
        elapsed = 0.0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen, first_at, elapsed
            if seen == 0:
                first_at = time.perf_counter()
            Envelope.decode(message.body)  # what any consumer does at the least
            await message.ack()
            seen += 1
            if seen == target:
                elapsed = time.perf_counter() - first_at
            if seen >= count:
                done.set()

        tag = await queue.consume(on_message)
        async with asyncio.timeout(600):
            await done.wait()
        await queue.cancel(tag)
    return target / elapsed


def poll_interval_s(done: float, target: int, running_s: float) -> float:
    """How long to wait before reading the worker's ack count again.

    Every ``POLL_S`` around the two moments measured (the first ack, and ``target`` acks), so that both
    ends of the interval keep that resolution; in between, a quarter of the time ``target`` still looks
    away at the rate so far, up to ``POLL_MAX_S``. Each ``/metrics`` answer costs the worker some 0.75 ms
    of CPU (most of it prometheus-client's text exposition): read 100 times a second all along, the
    observer alone took 7-10% of the CPU of the worker it measured. A slower poll can only end the
    interval late, which counts against the worker, never for it.
    """
    if not done or done >= target or running_s <= 0:
        return POLL_S
    eta_s = (target - done) * running_s / done
    return min(POLL_MAX_S, max(POLL_S, eta_s / 4))


async def acked(session: aiohttp.ClientSession, worker: Component) -> float:
    async with session.get(f"{worker.url}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("komo_braze_worker_messages_acked_total{"):
            return float(line.rsplit(" ", 1)[-1])
    return 0.0


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine so far, every process and core (user, nice, system, interrupts;
    Linux): what workers, broker, Redis and braze_sim spent together."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def worker_env(settings: Settings, sim_url: str, log_dir: Path, **extra: str) -> dict[str, str]:
    """A benchmarked worker's environment: the bench mapping, braze_sim, and ``extra`` settings on top."""
    mapping = log_dir / "mapping.yaml"
    mapping.write_text(SAMPLE_MAPPING)
    return component_env(
        amqp_url=settings.amqp_url_str,
        prefix=settings.prefix,
        braze_url=sim_url,
        braze_api_key=API_KEY,
        mapping=str(mapping),
        worker_metrics_bind="127.0.0.1:0",
        batch_mode=BatchMode.COMBINED.value,
        **extra,
    )


async def worker_per_s(
    settings: Settings, count: int, sim_url: str, log_dir: Path, sim_pid: int, **extra: str
) -> float:
    """One worker's rate over ``count`` queued messages; ``extra`` settings (e.g. ``state_url``) on top."""
    env = worker_env(settings, sim_url, log_dir, **extra)
    worker = await start_component("worker", ["worker"], env, log_dir)
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(600):
            first_at, elapsed, worker_cpu, sim_cpu = 0.0, 0.0, 0.0, 0.0
            target = int(count * SHARE)
            cpu_before = (cpu_s(worker.process.pid), cpu_s(sim_pid))
            while (done := await acked(session, worker)) < count:  # all of them: the queue ends empty
                if done and not first_at:
                    first_at = time.perf_counter()
                if done >= target and not elapsed:
                    elapsed = time.perf_counter() - first_at
                    worker_cpu, sim_cpu = cpu_s(worker.process.pid) - cpu_before[0], cpu_s(sim_pid) - cpu_before[1]
                await asyncio.sleep(poll_interval_s(done, target, time.perf_counter() - first_at if first_at else 0.0))
            elapsed = elapsed or time.perf_counter() - first_at
            print(f"  worker cpu {worker_cpu:.2f} s, braze_sim cpu {sim_cpu:.2f} s, wall {elapsed:.2f} s")
            return target / elapsed
    finally:
        await worker.stop()


async def clean_up(sim: asyncio.subprocess.Process | None, settings: Settings) -> None:
    """Stop the simulator and delete the benchmark's broker objects."""
    if sim is not None:
        await stop_process(sim)
    connection = await connect(settings, "bench-clean-up")
    async with connection:
        await topology.delete(await connection.channel(), settings.prefix)


async def run(count: int, users: int, rounds: int, gc_compare: bool = False) -> int:
    settings = load_settings(prefix=f"bench-worker-{uuid.uuid4().hex[:8]}", log_level="warning")
    samples = SampleFactory(seed=5, users=users)
    envelopes = [Envelope.from_komo(samples.submission(n)) for n in range(count)]
    sim, sim_url = None, ""
    try:
        with tempfile.TemporaryDirectory(prefix="komo-braze-bench-") as directory:
            log_dir = Path(directory)
            sim, sim_url = await start_braze_sim(log_dir, API_KEY, "--rate-limit", SIM_RATE_LIMIT)
            ratios, gc_gains = [], []
            for round_number in range(1, rounds + 1):  # alternating, so that load from elsewhere hits both
                await fill(settings, envelopes)
                baseline = await baseline_per_s(settings, count)
                await fill(settings, envelopes)
                rate = await worker_per_s(settings, count, sim_url, log_dir, sim.pid)
                ratios.append(rate / baseline)
                print(
                    f"round {round_number}: baseline {baseline:6.0f} msg/s, worker {rate:6.0f} msg/s, "
                    f"ratio {rate / baseline:.2f}"
                )
                if gc_compare:
                    await fill(settings, envelopes)
                    untuned = await worker_per_s(settings, count, sim_url, log_dir, sim.pid, gc_tuning="false")
                    gc_gains.append(rate / untuned)
                    print(
                        f"round {round_number}: worker without GC tuning {untuned:6.0f} msg/s, "
                        f"with / without {rate / untuned:.2f}"
                    )
    finally:
        await clean_up(sim, settings)
    print(f"messages per round: {count} ({users} distinct users), {rounds} rounds")
    print(f"median ratio worker / baseline: {statistics.median(ratios):.2f}  (goal >= 0.85)")
    if gc_gains:
        print(f"median ratio worker with / without GC tuning: {statistics.median(gc_gains):.2f}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench worker", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="submissions queued for each measurement")
    parser.add_argument("--users", type=int, default=5000, help="distinct users among them")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/worker pairs; the median ratio counts")
    parser.add_argument("--gc-compare", action="store_true", help="also measure a worker without GC tuning")
    options = parser.parse_args(argv)
    return asyncio.run(run(options.count, options.users, options.rounds, options.gc_compare))
