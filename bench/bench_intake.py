"""Intake rate: accepted submissions per second through ``komo-braze producer`` with 64 concurrent clients.

The baseline, measured in the same run against the same broker with the same concurrency and the same
messages, is a plain aio-pika loop publishing with confirms (no HTTP, no process hop): the ratio says
how much of the broker's confirmed-publish rate the intake delivers to webhook senders.

    python -m bench intake [--count 5000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson

from devtools.components import component_env, start_component
from devtools.loadgen import post_submissions
from devtools.samples import SampleFactory
from komo_braze import topology
from komo_braze.amqp import connect
from komo_braze.envelope import Envelope
from komo_braze.publishing import envelope_message
from komo_braze.settings import Settings, load_settings


async def baseline_per_s(settings: Settings, bodies: list[bytes], concurrency: int) -> float:
    """Confirmed publishes per second of a plain aio-pika loop, ``concurrency`` publishers on one channel."""
    connection = await connect(settings, "bench-baseline")
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        declared = await topology.declare(channel, settings.prefix, delivery_limit=settings.delivery_limit)
        pending: Iterator[bytes] = iter(bodies)

        async def publisher() -> None:
            for body in pending:
                envelope = Envelope.from_komo(orjson.loads(body))
                await declared.exchange.publish(envelope_message(envelope), envelope.routing_key, mandatory=True)

        started = time.perf_counter()
        async with asyncio.TaskGroup() as publishers:
            for _ in range(concurrency):
                publishers.create_task(publisher())
        return len(bodies) / (time.perf_counter() - started)


async def intake_per_s(settings: Settings, bodies: list[bytes], concurrency: int, log_dir: Path) -> tuple[float, int]:
    """Accepted submissions per second through a producer subprocess; also returns the failures."""
    token = secrets.token_urlsafe(24)
    env = component_env(
        amqp_url=settings.amqp_url_str, prefix=settings.prefix, producer_bind="127.0.0.1:0", webhook_token=token
    )
    producer = await start_component("producer", ["producer"], env, log_dir)
    try:
        url = f"{producer.url}/v1/submissions"
        headers = {"Authorization": f"Bearer {token}"}
        await post_submissions(url, bodies[:200], headers=headers, concurrency=concurrency)  # warm up
        report = await post_submissions(url, bodies, headers=headers, concurrency=concurrency)
    finally:
        await producer.stop()
    return report.accepted_per_s, report.posted - report.accepted


async def run(count: int, concurrency: int) -> int:
    settings = load_settings(prefix=f"bench-intake-{uuid.uuid4().hex[:8]}", log_level="warning")
    samples = SampleFactory(seed=11, users=2000)
    bodies = [orjson.dumps(samples.submission(n)) for n in range(count)]
    try:
        with tempfile.TemporaryDirectory(prefix="komo-braze-bench-") as log_dir:
            baseline = await baseline_per_s(settings, bodies, concurrency)
            intake, failures = await intake_per_s(settings, bodies, concurrency, Path(log_dir))
    finally:
        connection = await connect(settings, "bench-clean-up")
        async with connection:
            await topology.delete(await connection.channel(), settings.prefix)
    print(f"messages:                         {count} ({concurrency} concurrent)")
    print(f"baseline aio-pika confirmed loop: {baseline:8.0f} msg/s")
    print(f"intake (HTTP -> producer -> 202): {intake:8.0f} accepted/s")
    print(f"ratio intake / baseline:          {intake / baseline:8.2f}")
    if failures:
        print(f"FAILED: {failures} submissions were not accepted")
        return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench intake", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="submissions per measurement")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients and publishers")
    options = parser.parse_args(argv)
    return asyncio.run(run(options.count, options.concurrency))
