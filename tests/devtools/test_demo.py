from __future__ import annotations

import asyncio
import re

from devtools.components import component_env, spawn
from komo_braze.topology import queue_counts
from tests.broker import BrokerKit


async def test_the_demo_posts_through_a_real_producer_and_cleans_up(broker: BrokerKit) -> None:
    await broker.declare()  # objects of the prefix exist before: the demo must remove them
    process = await spawn(
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
    assert re.search(r"accepted \(202, confirmed by the broker\) +│ +60 │", text), text
    assert "braze-sim ready" in text
    assert "worker ready" in text
    # 60 submissions: n=21 has no identifier, n=42 only an invalid one; every other one reaches Braze
    assert re.search(r"dead letters by reason +│ +invalid_identifier 1, no_identifier 1 │", text), text
    assert re.search(r"delivered to Braze +│ +58 │", text), text
    assert re.search(r"work queue depth at the end +│ +0 │", text), text
    async with broker.connection() as connection:
        assert await queue_counts(connection, broker.names.work_queue()) is None, "the prefix was cleaned up"
