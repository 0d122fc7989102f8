"""The state store's cost: worker throughput with Redis (``KOMO_BRAZE_STATE_URL``) against in-process.

1. One worker over the same queued submissions, alternating in-process and Redis rounds in one run (so
   that load from elsewhere hits both); the median ratio Redis / in-process counts (goal >= 0.8). The
   worker talks to the store twice per batch, each time in one round trip, never per message.
2. The order scenario: ``--users`` x 5 back-to-back updates (newer Komo time each), ``--workers``
   processes competing on the queue, per-process against Redis, alternating for ``--order-rounds``:
   profiles left holding an older value in braze_sim, and two rates.

   - *live*: the updates are published while the workers run, as a campaign's webhooks would be; the
     rate runs from the first publish to the last ack, so it is bounded by the publisher, and what the
     store can cost shows as the *tail*: the time from the last publish to the last ack.
   - *backlog*: ``--backlog-users`` x 5 updates are queued first, then the workers start together and
     drain them (a deployment catching up after an outage); the rate runs from 5% of the submissions to
     95%, as braze_sim counts the events it accepted (the workers' staggered start-up left out; their own
     ``/metrics`` are read only after that, so that watching them costs them nothing; the profiles are
     read after the last ack), CPU-bound on a small machine. Also the machine's busy CPU per message over
     the same span (every process: workers, broker, Redis, braze_sim; ``/proc/stat``): what a store costs
     the machine, apart from how the work was spread over time; and the workers' own CPU per message, what
     each worker's machine pays where Redis and the broker run elsewhere. A third fleet drains the same
     backlog in each round: **one** worker, per-process, the only way the worker kept each user's updates
     in order before the store (``--workers`` of them with Redis against it).

    python -m bench state [--count 20000] [--users 1500] [--backlog-users 6000] [--workers 4] [--rounds 3]
                          [--order-rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
from redis.asyncio import Redis

from bench.bench_worker import (
    API_KEY,
    SIM_RATE_LIMIT,
    acked,
    clean_up,
    cpu_s,
    fill,
    machine_cpu_s,
    worker_env,
    worker_per_s,
)
from braze_sim.client import SimClient
from devtools.components import Component, start_braze_sim, start_component
from devtools.samples import SampleFactory, updates
from komo_braze.envelope import Envelope
from komo_braze.settings import Settings, load_settings

ROUNDS_PER_USER = 5
#: a backlog's rate is measured between these shares of its submissions
BACKLOG_FROM, BACKLOG_TO = 0.05, 0.95


async def clear_store(redis_url: str, prefix: str) -> None:
    """Delete every Redis key under ``prefix``: a deployment's state store and shared limits (benchmarks and
    tests clean up with it)."""
    client: Redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


@dataclass(frozen=True)
class FleetRun:
    rate: float  # messages per second, as the mode defines it
    tail_s: float  # live: from the last publish confirmed to the last ack (0 for a backlog)
    cpu_us: float  # backlog: the machine's busy CPU per message between 5% and 95% (0 for live)
    worker_cpu_us: float  # backlog: the workers' own CPU per message over the same span (0 for live)


class _Mark(NamedTuple):
    """One end of a measured span."""

    at: float  # perf_counter()
    done: float  # submissions through: braze_sim's accepted events, or the workers' acks at the end
    machine_cpu_s: float
    workers_cpu_s: float

    @classmethod
    def now(cls, done: float, crew: list[Component]) -> _Mark:
        return cls(time.perf_counter(), done, machine_cpu_s(), sum(cpu_s(w.process.pid) for w in crew))


async def fleet_run(
    settings: Settings,
    envelopes: list[Envelope],
    sim_url: str,
    log_dir: Path,
    workers: int,
    *,
    backlog: bool,
    **extra: str,
) -> FleetRun:
    """``workers`` processes over ``envelopes``: published while they run (live), or queued before they
    start (backlog)."""
    env = worker_env(settings, sim_url, log_dir, **extra)
    crew: list[Component] = []
    try:
        if backlog:
            await fill(settings, envelopes)
        # all started before a live stream is published: no worker is handed the whole of it first
        crew += await asyncio.gather(*(start_component(f"fleet-{n}", ["worker"], env, log_dir) for n in range(workers)))
        began = time.perf_counter()
        published_s = 0.0
        if not backlog:
            await fill(settings, envelopes)
            published_s = time.perf_counter() - began
        total = len(envelopes)
        low, high = (total * BACKLOG_FROM, total * BACKLOG_TO) if backlog else (1, total)
        start: _Mark | None = None
        end: _Mark | None = None
        async with SimClient(sim_url) as sim, aiohttp.ClientSession() as session, asyncio.timeout(600):
            done = 0
            while done < total:  # progress as braze_sim counts it: reading that costs the workers nothing
                await asyncio.sleep(0.05)
                done = await accepted_events(sim)
                if start is None and done >= low:
                    start = _Mark.now(done, crew)
                if backlog and end is None and done >= high:
                    end = _Mark.now(done, crew)
            # every update acked before the profiles are read; the workers' /metrics are read only now (a read
            # costs a worker ~0.75 ms of CPU: every 50 ms, that was ~6% of what the span measured)
            while True:
                acks = sum([await acked(session, w) for w in crew])
                if acks >= total:
                    break
                await asyncio.sleep(0.05)
            end = end or _Mark.now(acks, crew)
        assert start is not None
        assert end is not None
        if backlog:
            count = end.done - start.done
            if count <= 0 or end.at <= start.at:
                raise SystemExit(f"{total} queued updates were drained before they could be measured: queue more")
            return FleetRun(
                count / (end.at - start.at),
                0.0,
                (end.machine_cpu_s - start.machine_cpu_s) / count * 1e6,
                (end.workers_cpu_s - start.workers_cpu_s) / count * 1e6,
            )
        return FleetRun(len(envelopes) / (end.at - began), end.at - began - published_s, 0.0, 0.0)
    finally:
        await asyncio.gather(*(w.stop() for w in crew))


async def accepted_events(sim: SimClient) -> int:
    """Events braze_sim has accepted since its last reset: one per submission in these scenarios."""
    stats = await sim.stats()
    return int(stats["objects"]["events"])


async def older_profiles(sim_url: str, users: int) -> int:
    async with SimClient(sim_url) as sim:
        profiles = await sim.profiles(limit=users * 2)
    latest = f"team-{ROUNDS_PER_USER}"
    return sum(1 for p in profiles if p["custom_attributes"].get("favourite_team") != latest)


async def run(options: argparse.Namespace) -> int:
    settings = load_settings(prefix=f"bench-state-{uuid.uuid4().hex[:8]}", log_level="warning")
    samples = SampleFactory(seed=5, users=5000)
    envelopes = [Envelope.from_komo(samples.submission(n)) for n in range(options.count)]
    redis = {"state_url": options.redis}
    sim: Any = None
    try:
        with tempfile.TemporaryDirectory(prefix="komo-braze-bench-") as directory:
            log_dir = Path(directory)
            sim, sim_url = await start_braze_sim(log_dir, API_KEY, "--rate-limit", SIM_RATE_LIMIT)
            ratios = []
            for round_number in range(1, options.rounds + 1):
                await fill(settings, envelopes)
                local = await worker_per_s(settings, options.count, sim_url, log_dir, sim.pid)
                await fill(settings, envelopes)
                shared = await worker_per_s(settings, options.count, sim_url, log_dir, sim.pid, **redis)
                await clear_store(options.redis, settings.prefix)
                ratios.append(shared / local)
                print(
                    f"round {round_number}: in-process {local:6.0f} msg/s, Redis {shared:6.0f} msg/s, "
                    f"ratio {shared / local:.2f}"
                )
            print(f"median ratio Redis / in-process: {statistics.median(ratios):.2f}  (goal >= 0.8)")
            for users, backlog in ((options.users, False), (options.backlog_users, True)):
                order = [Envelope.from_komo(body) for body in updates(users, ROUNDS_PER_USER)]
                await order_scenario(options, settings, order, sim_url, log_dir, users=users, backlog=backlog)
    finally:
        await clean_up(sim, settings)
    return 0


async def order_scenario(
    options: argparse.Namespace,
    settings: Settings,
    order: list[Envelope],
    sim_url: str,
    log_dir: Path,
    *,
    users: int,
    backlog: bool,
) -> None:
    """Per-process and Redis fleets over the order scenario, alternating; prints each round and the medians."""
    kind = "backlog" if backlog else "live"
    fleets = [("per-process", options.workers, {}), ("Redis", options.workers, {"state_url": options.redis})]
    if backlog:
        fleets.append(("per-process alone", 1, {}))
    runs: dict[str, list[FleetRun]] = {label: [] for label, _, _ in fleets}
    for round_number in range(1, options.order_rounds + 1):
        for label, workers, extra in fleets:
            async with SimClient(sim_url) as client:
                await client.reset()
            run = await fleet_run(settings, order, sim_url, log_dir, workers, backlog=backlog, **extra)
            older = await older_profiles(sim_url, users)
            await clear_store(options.redis, settings.prefix)
            runs[label].append(run)
            if backlog:
                tail = f", CPU per message: machine {run.cpu_us:.0f} us, workers {run.worker_cpu_us:.0f} us"
            else:
                tail = f", tail {run.tail_s:.2f} s"
            print(
                f"order {kind}, round {round_number}, {workers} worker{'s' * (workers > 1)}, {label}: "
                f"{run.rate:6.0f} msg/s{tail}, {older} of {users} profiles holding an older value"
            )
    rate = {label: statistics.median(r.rate for r in done) for label, done in runs.items()}
    print(
        f"order {kind}: median per-process {rate['per-process']:.0f} msg/s, Redis {rate['Redis']:.0f} msg/s, "
        f"ratio {rate['Redis'] / rate['per-process']:.2f}"
    )
    if backlog:
        for label, done in runs.items():
            machine = statistics.median(r.cpu_us for r in done)
            own = statistics.median(r.worker_cpu_us for r in done)
            print(f"  median CPU per message, {label}: machine {machine:.0f} us, workers {own:.0f} us")
        alone = rate["per-process alone"]
        print(
            f"  one per-process worker alone {alone:.0f} msg/s; {options.workers} workers with Redis against it: "
            f"{rate['Redis'] / alone:.2f}"
        )
    else:
        tails = {label: statistics.median(r.tail_s for r in done) for label, done in runs.items()}
        print(f"  median tail per-process {tails['per-process']:.2f} s, Redis {tails['Redis']:.2f} s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench state", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="submissions queued for each single-worker round")
    parser.add_argument("--users", type=int, default=1500, help="users in the order scenario (5 updates each)")
    parser.add_argument("--backlog-users", type=int, default=6000, help="users in the backlog (5 updates each)")
    parser.add_argument("--workers", type=int, default=4, help="competing workers in the order scenario")
    parser.add_argument("--rounds", type=int, default=3, help="in-process/Redis pairs; the median ratio counts")
    parser.add_argument("--order-rounds", type=int, default=3, help="per-process/Redis pairs of each order scenario")
    parser.add_argument("--redis", default="redis://localhost:6379/0", help="the Redis to measure against")
    return asyncio.run(run(parser.parse_args(argv)))
