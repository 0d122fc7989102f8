"""A broker restart: readiness goes false while it is gone, the consumer comes back by itself."""

from __future__ import annotations

import aiohttp
import pytest

from braze_sim.testing import running_sim
from tests.broker import BrokerKit, unique_prefix
from tests.own_broker import own_broker
from tests.waiting import eventually
from tests.worker.harness import acked, body, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper

pytestmark = pytest.mark.slow


async def _ready(port: int) -> bool:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status == 200


async def test_after_a_broker_restart_the_consumer_is_re_established(tmp_path: object) -> None:
    async with own_broker() as node, running_sim() as sim:
        kit = BrokerKit(amqp_url=node.amqp_url, prefix=unique_prefix("restart"))
        await kit.declare()
        async with running_worker(kit, SimpleMapper(), braze_url=sim.url, reconnect_interval_s=0.5) as worker:
            await eventually(lambda: _ready(worker.port), what="ready")
            await publish(kit, [body(f"before-{n}") for n in range(10)])
            await eventually(acked(worker, 10), what="10 acks before the restart")
            await node.stop()
            await eventually(lambda: _not(_ready(worker.port)), what="not ready while the broker is down")
            await node.start()
            await eventually(lambda: _ready(worker.port), timeout_s=60, what="ready again")
            await publish(kit, [body(f"after-{n}") for n in range(10)])
            await eventually(acked(worker, 20), what="10 acks after the restart")
            assert len(await sim.client.events()) == 20


async def _not(check: object) -> bool:
    return not await check  # type: ignore[misc]
