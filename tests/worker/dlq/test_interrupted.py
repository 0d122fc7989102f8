"""``kill -9`` in the middle of a real ``komo-braze dlq replay`` of 20,000 letters, then a second run."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import orjson
import pytest

from devtools.components import spawn
from tests.broker import BrokerKit
from tests.proxy import TcpProxy
from tests.waiting import eventually
from tests.worker.dlq.letters import fill, message_ids, read_queue

LETTERS = 20_000
IN_FLIGHT = 500
ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


async def filled(broker: BrokerKit, count: int) -> list[str]:
    """The dead-letter queue holding ``count`` letters; their submission ids, in queue order."""
    await broker.declare()
    async with broker.connection() as connection:
        return [s.submission_id for s in await fill(connection, broker.prefix, count)]


async def start_replay(broker: BrokerKit, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await spawn(
        "dlq",
        "replay",
        "--json",
        "--max-in-flight",
        str(IN_FLIGHT),
        *args,
        env=broker.env(**env),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_replay_killed_midway_loses_nothing_and_a_second_run_finishes_it(broker: BrokerKit) -> None:
    everything = await filled(broker, LETTERS)

    first = await start_replay(broker)
    work_before_kill = 0
    async with asyncio.timeout(60):
        while work_before_kill < LETTERS // 4:
            await asyncio.sleep(0.02)
            work_before_kill = await broker.count(broker.names.work_queue())
    os.kill(first.pid, signal.SIGKILL)
    await first.wait()
    assert first.returncode == -signal.SIGKILL

    # the broker notices the dropped connection and hands the held letters back, in order
    async with broker.connection() as connection:
        await asyncio.sleep(1.0)
        dead_after_kill = message_ids_of(await read_queue(connection, broker.names.dead_queue))
        work_after_kill = message_ids_of(await read_queue(connection, broker.names.work_queue()))
    assert 0 < len(dead_after_kill) < LETTERS, "the kill did not land in the middle"
    assert set(dead_after_kill) | set(work_after_kill) == set(everything), "a letter was lost"
    in_both = set(dead_after_kill) & set(work_after_kill)
    assert len(in_both) <= IN_FLIGHT
    assert dead_after_kill == [i for i in everything if i in set(dead_after_kill)], "the dead letters were reordered"

    second = await start_replay(broker)
    stdout, stderr = await asyncio.wait_for(second.communicate(), timeout=90)
    assert second.returncode == 0, stderr.decode()[-2000:]
    summary = orjson.loads(stdout)
    assert summary["moved"] == len(dead_after_kill)
    assert summary["left"] == 0

    async with broker.connection() as connection:
        leftover = message_ids_of(await read_queue(connection, broker.names.dead_queue))
        delivered = Counter(message_ids_of(await read_queue(connection, broker.names.work_queue())))
    assert leftover == []
    duplicates = {i: n for i, n in delivered.items() if n > 1}
    assert set(delivered) == set(everything), "a letter was lost"
    assert all(n == 2 for n in duplicates.values())
    assert set(duplicates) == in_both  # duplicates only from the in-flight window of the killed run
    print(f"killed after {work_before_kill} in the work queue; {len(duplicates)} duplicates (window {IN_FLIGHT})")


def message_ids_of(letters: list) -> list[str]:  # type: ignore[type-arg]
    return [letter.submission_id for letter in letters]


async def test_ctrl_c_stops_a_replay_cleanly_and_a_second_run_finishes_it(broker: BrokerKit) -> None:
    everything = await filled(broker, 600)

    first = await start_replay(broker, "--rate", "300")
    replayed = 0
    async with asyncio.timeout(30):
        while replayed < 100:
            await asyncio.sleep(0.05)
            replayed = await broker.count(broker.names.work_queue())
    first.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(first.communicate(), timeout=30)
    assert first.returncode == 1, stderr.decode()[-2000:]
    summary = orjson.loads(stdout)
    assert summary["interrupted"] is True
    assert 100 <= summary["moved"] < 600
    # a clean stop acks every confirmed copy before it closes: no duplicates at all
    assert await broker.count(broker.names.work_queue()) == summary["moved"]
    assert await broker.count(broker.names.dead_queue) == 600 - summary["moved"]

    second = await start_replay(broker)
    stdout, stderr = await asyncio.wait_for(second.communicate(), timeout=60)
    assert second.returncode == 0, stderr.decode()[-2000:]
    assert message_ids(await broker.drain(broker.names.work_queue())) == everything


async def test_a_replay_whose_broker_connection_breaks_loses_nothing_and_can_be_run_again(broker: BrokerKit) -> None:
    everything = await filled(broker, 3000)

    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        first = await start_replay(broker, "--rate", "1000", KOMO_BRAZE_AMQP_URL=proxy.url_for(broker.amqp_url))
        replayed = 0
        async with asyncio.timeout(30):
            while replayed < 300:
                await asyncio.sleep(0.02)
                replayed = await broker.count(broker.names.work_queue())
        proxy.cut()  # as a broker restart looks from the client: every connection gone at once
        stdout, stderr = await asyncio.wait_for(first.communicate(), timeout=60)
    assert first.returncode == 1, stderr.decode()[-2000:]
    summary = orjson.loads(stdout)
    assert summary["failure"] is not None
    assert "connection" in summary["failure"]

    await asyncio.sleep(0.5)
    second = await start_replay(broker)
    stdout, stderr = await asyncio.wait_for(second.communicate(), timeout=60)
    assert second.returncode == 0, stderr.decode()[-2000:]
    delivered = Counter(message_ids(await broker.drain(broker.names.work_queue())))
    assert set(delivered) == set(everything), "a letter was lost"
    assert sum(delivered.values()) - len(everything) <= IN_FLIGHT  # duplicates only from the cut window
    assert await broker.count(broker.names.dead_queue) == 0


async def test_a_replay_that_loses_its_node_goes_on_over_another_and_says_how_many_it_republished(
    broker: BrokerKit,
) -> None:
    everything = await filled(broker, 3000)

    async with TcpProxy.for_url(broker.amqp_url) as one, TcpProxy.for_url(broker.amqp_url) as two:
        nodes = f"{one.url_for(broker.amqp_url)},{two.url_for(broker.amqp_url)}"
        replay = await start_replay(
            broker, "--rate", "1000", KOMO_BRAZE_AMQP_URL=nodes, KOMO_BRAZE_RECONNECT_INTERVAL_S="0.2"
        )

        async def some_replayed() -> bool:
            return await broker.count(broker.names.work_queue()) >= 300

        await eventually(some_replayed, timeout_s=30, what="300 letters replayed")
        (one if one.accepted else two).cut()  # the node the run is connected to goes away
        stdout, stderr = await asyncio.wait_for(replay.communicate(), timeout=60)
        assert (one.accepted, two.accepted) == (1, 1), "the run went on over the other node"
    assert replay.returncode == 0, stderr.decode()[-2000:]
    summary = orjson.loads(stdout)
    assert summary["resumes"] == 1
    assert summary["failure"] is None
    assert (summary["moved"], summary["left"]) == (3000, 0)
    assert summary["republished"] > 0
    delivered = Counter(message_ids(await broker.drain(broker.names.work_queue())))
    assert set(delivered) == set(everything), "a letter was lost"
    assert sum(delivered.values()) - len(everything) <= summary["republished"]
    assert await broker.count(broker.names.dead_queue) == 0
