"""Dead-letter tooling: ``dlq replay`` rate and ``dlq stats`` time on 100,000 dead letters.

Runs the real commands (``komo-braze dlq stats --json``, ``komo-braze dlq replay --json``) as
subprocesses against the broker of ``KOMO_BRAZE_AMQP_URL`` (default localhost), on a prefix of its own
that it deletes afterwards. Baselines, measured in the same run on the same broker and messages:

- publish: writing the dead letters with pipelined confirms (what any replay must at least do);
- drain: consuming the replayed messages with auto-ack and no work at all (the client's read ceiling).

``python -m bench dlq [--letters N]``
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aio_pika
import orjson

from devtools.components import KOMO_BRAZE
from komo_braze import topology
from komo_braze.deadletter import ErrorKind, build_dead_letter
from komo_braze.envelope import Envelope
from komo_braze.settings import load_settings

KINDS = (ErrorKind.BRAZE_REJECTED, ErrorKind.NO_IDENTIFIER, ErrorKind.UNMAPPED_HUB)


def letter(n: int) -> aio_pika.Message:
    failed_at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n)
    body = {"submission_id": f"sub-{n:07d}", "site_id": f"hub-{n % 7}", "email": f"user{n}@example.com"}
    envelope = Envelope.from_komo(body, received_at=failed_at)
    original = aio_pika.Message(envelope.encode(), message_id=envelope.submission_id)
    return build_dead_letter(
        original.body,
        original,
        kind=KINDS[n % 3],
        detail="Invalid email address",
        attempts=1,
        hub_id=envelope.hub_id,
        workspace="default",
        failed_at=failed_at,
    )


async def fill(url: str, prefix: str, count: int) -> float:
    """Write ``count`` dead letters with pipelined confirms; returns seconds taken."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        declared = await topology.declare(channel, prefix)
        messages = [letter(n) for n in range(count)]
        started = time.perf_counter()
        for first in range(0, count, 2000):
            chunk = messages[first : first + 2000]
            await asyncio.gather(*(declared.dead_exchange.publish(m, routing_key="") for m in chunk))
        return time.perf_counter() - started


async def drain(url: str, queue_name: str, count: int) -> float:
    """Consume ``count`` messages with auto-ack and no work; returns seconds taken."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2000)
        queue = await channel.declare_queue(queue_name, passive=True)
        done, seen = asyncio.Event(), [0]

        async def take(_message: aio_pika.abc.AbstractIncomingMessage) -> None:
            seen[0] += 1
            if seen[0] >= count:
                done.set()

        started = time.perf_counter()
        await queue.consume(take, no_ack=True)
        await asyncio.wait_for(done.wait(), timeout=900)
        return time.perf_counter() - started


async def cleanup(url: str, prefix: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        await topology.delete(await connection.channel(), prefix)


def komo_braze(env: dict[str, str], *args: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    result = subprocess.run(
        [*KOMO_BRAZE, "dlq", *args, "--json"],
        env=env,
        capture_output=True,
        check=True,
        timeout=1800,
    )
    return time.perf_counter() - started, orjson.loads(result.stdout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dlq")
    parser.add_argument("--letters", type=int, default=100_000)
    args, _others = parser.parse_known_args(argv)  # options meant for other benchmarks are not ours
    settings = load_settings()
    url, prefix, count = settings.amqp_urls[0], f"bench-dlq-{uuid.uuid4().hex[:8]}", args.letters
    names = topology.Names(prefix)
    env = {"PATH": "/usr/bin:/bin", "KOMO_BRAZE_AMQP_URL": url, "KOMO_BRAZE_PREFIX": prefix}
    env["KOMO_BRAZE_LOG_FORMAT"] = "json"
    print(f"broker {urlsplit(url).hostname}:{urlsplit(url).port or 5672}, {count:,} dead letters, prefix {prefix}")
    try:
        publish_s = asyncio.run(fill(url, prefix, count))
        print(f"baseline publish (pipelined confirms): {count / publish_s:,.0f}/s ({publish_s:.1f} s)")

        stats_s, stats = komo_braze(env, "stats")
        assert stats["total"] == count, stats
        print(f"dlq stats: {stats_s:.1f} s wall for {count:,} letters ({count / stats_s:,.0f}/s read in place)")

        replay_s, replay = komo_braze(env, "replay")
        assert replay["moved"] == count, replay
        rate = float(replay["rate_per_s"])  # type: ignore[arg-type]
        print(f"dlq replay: {rate:,.0f}/s ({replay['duration_s']} s; {replay_s:.1f} s wall with start-up)")

        drain_s = asyncio.run(drain(url, names.work_queue(), count))
        print(f"baseline drain (auto-ack, no work): {count / drain_s:,.0f}/s ({drain_s:.1f} s)")
        print(f"ratio replay / publish baseline: {rate / (count / publish_s):.2f}")
        print(f"ratio stats read / drain baseline: {(count / stats_s) / (count / drain_s):.2f}")
    finally:
        asyncio.run(cleanup(url, prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
