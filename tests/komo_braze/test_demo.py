from __future__ import annotations

import asyncio
import sys

from komo_braze.components import component_env
from komo_braze.topology import queue_counts
from tests.broker import BrokerKit


async def test_the_demo_posts_through_a_real_producer_and_cleans_up(broker: BrokerKit) -> None:
    await broker.declare()  # objects of the prefix exist before: the demo must remove them
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "komo_braze.cli",
        "demo",
        "--count",
        "60",
        "--malformed",
        "3",
        "--prefix",
        broker.prefix,
        env=component_env(amqp_url=broker.amqp_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(90):
        output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    assert "demo passed" in text
    assert "accepted (202, confirmed by the broker) │" in text
    async with broker.connection() as connection:
        assert await queue_counts(connection, broker.names.work_queue()) is None, "the prefix was cleaned up"
