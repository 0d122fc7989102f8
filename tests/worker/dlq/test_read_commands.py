"""The reading ``dlq`` commands create nothing: a mistyped prefix is said to be missing."""

from __future__ import annotations

import asyncio
import os

import orjson

from komo_braze import topology
from tests.broker import BrokerKit
from tests.cli import run_komo_braze

READING = [
    ("dlq", "stats"),
    ("dlq", "list"),
    ("dlq", "show", "some-submission"),
    ("dlq", "export", "-"),
    ("dlq", "replay", "--dry-run"),
    ("dlq", "purge"),
]


async def test_reading_commands_on_a_prefix_with_nothing_declared_create_nothing(broker: BrokerKit) -> None:
    env = broker.env()
    finished = await asyncio.gather(*(run_komo_braze(*args, env=env) for args in READING))
    assert [f.status for f in finished] == [os.EX_NOINPUT] * len(READING)
    expected_problem = (
        f"queue {broker.names.dead_queue!r} does not exist: nothing is declared under prefix {broker.prefix!r} "
        "(a mistyped prefix? `komo-braze topology --apply` declares it)"
    )
    last_lines = [orjson.loads(f.stderr_lines[-1]) for f in finished]  # purge first says it only counts
    assert {(line["event"], line["problem"]) for line in last_lines} == {("command_failed", expected_problem)}
    async with broker.connection() as connection:
        for exchange in (broker.names.exchange, broker.names.dead_exchange):
            assert not await topology.exchange_exists(connection, exchange)
        for queue in (broker.names.work_queue(), broker.names.dead_queue):
            assert await topology.queue_counts(connection, queue) is None
