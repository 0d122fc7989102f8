"""The state store's cost: worker throughput with Redis (``KOMO_BRAZE_STATE_URL``) against in-process.

1. One worker over the same queued submissions, alternating in-process and Redis rounds in one run (so
   that load from elsewhere hits both); the median ratio Redis / in-process counts (goal >= 0.8). The
   worker talks to the store twice per batch, each time in one round trip, never per message.
2. The order scenario: ``--users`` x 5 back-to-back updates (newer Komo time each), ``--workers``
   processes competing on the queue, per-process against Redis: rate, and profiles left holding an
   older value in braze_sim.

    python -m bench state [--count 20000] [--users 1500] [--workers 4] [--rounds 3] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bench.bench_worker import API_KEY, SIM_RATE_LIMIT, acked, clean_up, fill, worker_env, worker_per_s
from braze_sim.client import SimClient
from devtools.components import Component, start_braze_sim, start_component
from devtools.samples import SampleFactory, updates
from komo_braze.envelope import Envelope
from komo_braze.settings import Settings, load_settings

ROUNDS_PER_USER = 5


async def clear_store(redis_url: str, prefix: str) -> None:
    client: Redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


async def fleet_per_s(
    settings: Settings, envelopes: list[Envelope], sim_url: str, log_dir: Path, workers: int, **extra: str
) -> float:
    """``workers`` processes over ``envelopes`` published while they run (as a campaign's webhooks
    would be): from the start of publishing to the last ack."""
    env = worker_env(settings, sim_url, log_dir, **extra)
    crew: list[Component] = []
    try:
        # all started before the backlog is queued: no worker is handed the whole of it first
        crew += await asyncio.gather(*(start_component(f"fleet-{n}", ["worker"], env, log_dir) for n in range(workers)))
        began = time.perf_counter()
        await fill(settings, envelopes)
        async with aiohttp.ClientSession() as session, asyncio.timeout(600):
            done = 0.0
            while done < len(envelopes):
                await asyncio.sleep(0.05)
                done = sum([await acked(session, w) for w in crew])
            return len(envelopes) / (time.perf_counter() - began)
    finally:
        await asyncio.gather(*(w.stop() for w in crew))


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
            order = [Envelope.from_komo(body) for body in updates(options.users, ROUNDS_PER_USER)]
            for label, extra in (("per-process", {}), ("Redis", redis)):
                async with SimClient(sim_url) as client:
                    await client.reset()
                rate = await fleet_per_s(settings, order, sim_url, log_dir, options.workers, **extra)
                older = await older_profiles(sim_url, options.users)
                await clear_store(options.redis, settings.prefix)
                print(
                    f"order, {options.workers} workers, {label}: {rate:6.0f} msg/s, "
                    f"{older} of {options.users} profiles holding an older value"
                )
    finally:
        await clean_up(sim, settings)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench state", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="submissions queued for each single-worker round")
    parser.add_argument("--users", type=int, default=1500, help="users in the order scenario (5 updates each)")
    parser.add_argument("--workers", type=int, default=4, help="competing workers in the order scenario")
    parser.add_argument("--rounds", type=int, default=3, help="in-process/Redis pairs; the median ratio counts")
    parser.add_argument("--redis", default="redis://localhost:6379/0", help="the Redis to measure against")
    return asyncio.run(run(parser.parse_args(argv)))
