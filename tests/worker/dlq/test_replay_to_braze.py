"""A mapping mistake dead-letters submissions; after the fix, ``dlq replay`` delivers them to Braze.

The real pieces: ``komo-braze worker`` subprocesses (before and after the fix), braze_sim on port 0,
``komo-braze dlq replay``, the shared broker.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aio_pika
import orjson
import pytest

from braze_sim.testing import RunningSim, running_sim
from devtools.components import spawn
from komo_braze.envelope import Envelope
from tests.broker import BrokerKit
from tests.cli import run_komo_braze
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[3]
KNOWN_HUB = "5b0f0f1e-0000-4000-8000-000000000001"
NEW_HUB = "5b0f0f1e-0000-4000-8000-000000000002"

BROKEN = f"""
hubs:
  "{KNOWN_HUB}":
    identify: {{by: external_id, field: customer_id}}
    attributes: {{first_name: first_name}}
"""
FIXED = """
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes: {first_name: first_name}
"""

pytestmark = pytest.mark.slow


def body(n: int, hub: str) -> dict[str, str]:
    sid = f"00000000-0000-4000-8000-{n:012d}"
    return {"id": sid, "submission_id": sid, "site_id": hub, "customer_id": f"cust-{n}", "first_name": f"Name{n}"}


async def publish(broker: BrokerKit, bodies: list[dict[str, str]]) -> None:
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.exchange)
        for item in bodies:
            envelope = Envelope.from_komo(item)
            message = aio_pika.Message(envelope.encode(), message_id=envelope.submission_id)
            await exchange.publish(message, routing_key=envelope.routing_key, mandatory=True)


@asynccontextmanager
async def worker(broker: BrokerKit, sim: RunningSim, mapping: Path) -> AsyncIterator[None]:
    env = broker.env(
        KOMO_BRAZE_BRAZE_URL=sim.url,
        KOMO_BRAZE_BRAZE_API_KEY="test-key",
        KOMO_BRAZE_MAPPING=str(mapping),
        KOMO_BRAZE_WORKER_METRICS_BIND="127.0.0.1:0",
        KOMO_BRAZE_BATCH_LINGER_MS="50",
    )
    process = await spawn(
        "worker",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()[-2000:]


async def profiles(sim: RunningSim) -> set[str]:
    return {p["external_id"] for p in await sim.client.profiles() if p.get("external_id")}


async def test_a_replay_after_a_mapping_fix_delivers_the_dead_letters_to_braze(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await broker.declare()
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(BROKEN)
    known = [body(n, KNOWN_HUB) for n in range(10)]
    new = [body(n, NEW_HUB) for n in range(10, 30)]
    async with running_sim() as sim:
        async with worker(broker, sim, mapping):
            await publish(broker, known + new)
            await eventually(lambda: _count_is(broker, broker.names.dead_queue, 20), timeout_s=30)
            await eventually(lambda: _profiles_are(sim, 10), timeout_s=30)
        assert await profiles(sim) == {f"cust-{n}" for n in range(10)}

        mapping.write_text(FIXED)
        async with worker(broker, sim, mapping):
            replay = await run_komo_braze("dlq", "replay", "--kind", "unmapped_hub", "--json", env=broker.env())
            assert replay.status == 0, replay.stderr[-2000:]
            assert orjson.loads(replay.stdout)["moved"] == 20
            await eventually(lambda: _profiles_are(sim, 30), timeout_s=30)
        assert await profiles(sim) == {f"cust-{n}" for n in range(30)}
        replayed = await sim.client.profile(external_id="cust-17")
        assert replayed is not None
        assert replayed["attributes"]["first_name"] == "Name17"
    assert await broker.count(broker.names.dead_queue) == 0
    assert await broker.count(broker.names.work_queue()) == 0


async def _count_is(broker: BrokerKit, queue: str, expected: int) -> bool:
    return await broker.count(queue) == expected


async def _profiles_are(sim: RunningSim, expected: int) -> bool:
    return len(await profiles(sim)) == expected
