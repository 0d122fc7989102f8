"""``komo-braze producer`` as a real process: signals, graceful stop, refusal to start open."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import orjson

from devtools.components import Component, component_env, start_component
from tests.broker import BrokerKit
from tests.cli import run_komo_braze
from tests.komo_example import KOMO_BODY
from tests.proxy import TcpProxy

TOKEN = "cli-test-token"


async def post(session: aiohttp.ClientSession, component: Component, submission_id: str) -> int:
    async with session.post(
        f"{component.url}/v1/submissions",
        data=orjson.dumps({**KOMO_BODY, "submission_id": submission_id}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    ) as response:
        return response.status


async def in_flight(session: aiohttp.ClientSession, component: Component) -> float:
    async with session.get(f"{component.url}/metrics", headers=component.admin_headers) as response:
        for line in (await response.text()).splitlines():
            if line.startswith("komo_braze_producer_publishes_in_flight "):
                return float(line.split()[1])
    return -1.0


async def test_sigterm_stops_the_producer_cleanly(broker: BrokerKit, tmp_path: Path) -> None:
    env = component_env(
        amqp_url=broker.amqp_url, prefix=broker.prefix, producer_bind="127.0.0.1:0", webhook_token=TOKEN
    )
    producer = await start_component("producer", ["producer"], env, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            assert await post(session, producer, "via-subprocess") == 202
    finally:
        status = await producer.stop(timeout_s=20)
    assert status == 0
    events = [e["event"] for e in producer.log_events()]
    assert events.index("signal_received") < events.index("stopping") < events.index("stopped")
    assert [m.message_id for m in await broker.drain(broker.names.work_queue())] == ["via-subprocess"]
    assert TOKEN not in producer.log_path.read_text()


async def test_sigterm_waits_for_publishes_in_flight(broker: BrokerKit, tmp_path: Path) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        env = component_env(
            amqp_url=proxy.url_for(broker.amqp_url),
            prefix=broker.prefix,
            producer_bind="127.0.0.1:0",
            webhook_token=TOKEN,
            publish_timeout_s="20",
        )
        producer = await start_component("producer", ["producer"], env, tmp_path)
        try:
            async with aiohttp.ClientSession() as session:
                proxy.stall()  # confirms cannot come back: the publishes stay in flight
                posts = [asyncio.create_task(post(session, producer, f"late-{n}")) for n in range(3)]
                async with asyncio.timeout(10):
                    while True:
                        if await in_flight(session, producer) == 3:
                            break
                        await asyncio.sleep(0.05)
                producer.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                assert producer.process.returncode is None, "the producer waits for its publishes"
                proxy.restore()
                statuses = await asyncio.gather(*posts)
        finally:
            status = await producer.stop(timeout_s=20)
    assert statuses == [202, 202, 202]
    assert status == 0
    assert await broker.wait_for_count(broker.names.work_queue(), 3) == 3


async def test_an_open_intake_on_a_public_bind_refuses_to_start(broker: BrokerKit) -> None:
    env = component_env(amqp_url=broker.amqp_url, prefix=broker.prefix, producer_bind="0.0.0.0:0")
    env.pop("KOMO_BRAZE_WEBHOOK_TOKEN", None)
    env.pop("KOMO_BRAZE_WEBHOOK_HMAC_SECRET", None)
    finished = await run_komo_braze("producer", env=env, timeout_s=30)
    assert finished.status == os.EX_CONFIG
    assert "refusing to start" in finished.stderr
    assert "KOMO_BRAZE_WEBHOOK_TOKEN" in finished.stderr


async def test_an_open_intake_on_loopback_says_so_at_start(broker: BrokerKit, tmp_path: Path) -> None:
    env = component_env(amqp_url=broker.amqp_url, prefix=broker.prefix, producer_bind="127.0.0.1:0")
    env.pop("KOMO_BRAZE_WEBHOOK_TOKEN", None)
    env.pop("KOMO_BRAZE_WEBHOOK_HMAC_SECRET", None)
    producer = await start_component("producer", ["producer"], env, tmp_path)
    assert await producer.stop(timeout_s=20) == 0
    warnings = [e for e in producer.log_events() if e["event"] == "intake_unauthenticated"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
