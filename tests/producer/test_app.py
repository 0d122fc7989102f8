from __future__ import annotations

import asyncio

import aiohttp
import orjson

from producer.app import Producer, serve
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY
from tests.producer.conftest import Intake, StartIntake
from tests.proxy import TcpProxy
from tests.waiting import eventually


async def post(intake: Intake, submission_id: str) -> tuple[int, dict[str, str], str | None]:
    body = orjson.dumps({**KOMO_BODY, "submission_id": submission_id})
    async with intake.post(body) as response:
        return response.status, await response.json(), response.headers.get("Retry-After")


async def ready_status(intake: Intake) -> int:
    async with intake.session.get(f"{intake.url}/readyz") as response:
        return response.status


async def test_broker_away_means_503_and_its_return_means_202_without_a_restart(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        settings = broker.settings(amqp_url=proxy.url_for(broker.amqp_url), reconnect_interval_s=0.2)
        async with start_intake(settings=settings) as intake:
            assert (await post(intake, "before"))[0] == 202

            proxy.cut()
            await asyncio.sleep(0.3)  # the connection is gone; the robust connection keeps trying
            for attempt in range(3):
                status, answer, retry_after = await post(intake, f"during-{attempt}")
                assert status == 503
                assert "unavailable" in answer["error"]
                assert retry_after is not None
                assert int(retry_after) >= 1
            assert await ready_status(intake) == 503

            proxy.restore()
            assert await intake.producer.publisher.wait_ready(15)
            assert await ready_status(intake) == 200
            assert (await post(intake, "after"))[0] == 202
            metrics = await intake.metrics_text()
    messages = await broker.drain(broker.names.work_queue())
    assert [m.message_id for m in messages] == ["before", "after"]
    assert 'komo_braze_producer_requests_total{status="503"} 3.0' in metrics
    assert proxy.accepted >= 2, "the producer reconnected through the proxy"


async def test_a_producer_started_while_the_broker_is_away_becomes_ready_when_it_comes(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        proxy.cut()
        settings = broker.settings(amqp_url=proxy.url_for(broker.amqp_url), reconnect_interval_s=0.2)
        async with start_intake(settings=settings, wait_ready=False) as intake:
            assert await ready_status(intake) == 503
            assert (await post(intake, "early"))[0] == 503
            proxy.restore()
            assert await intake.producer.publisher.wait_ready(15)
            assert (await post(intake, "late"))[0] == 202
    assert [m.message_id for m in await broker.drain(broker.names.work_queue())] == ["late"]


async def test_stopping_finishes_publishes_in_progress_and_refuses_new_connections(broker: BrokerKit) -> None:
    async with TcpProxy.for_url(broker.amqp_url) as proxy:
        settings = broker.settings(amqp_url=proxy.url_for(broker.amqp_url), publish_timeout_s=20)
        producer = Producer(settings)
        port = await producer.start(port=0)
        assert await producer.publisher.wait_ready(15)
        async with aiohttp.ClientSession() as session:
            intake = Intake(producer, session)
            proxy.stall()  # the confirms cannot come back: the publishes stay in flight
            requests = [asyncio.create_task(post(intake, f"in-flight-{n}")) for n in range(5)]
            await eventually(
                lambda: producer.metrics.registry.get_sample_value("komo_braze_producer_publishes_in_flight") == 5
            )
            stopping = asyncio.create_task(producer.stop())
            await asyncio.sleep(0.3)
            assert not stopping.done(), "stop waits for the publishes in progress"
            try:
                async with asyncio.timeout(2):
                    await asyncio.open_connection("127.0.0.1", port)
                refused = False
            except OSError:
                refused = True
            assert refused, "no new connections while stopping"
            proxy.restore()
            answers = await asyncio.gather(*requests)
            await asyncio.wait_for(stopping, 10)
    assert [status for status, _, _ in answers] == [202] * 5
    assert await broker.wait_for_count(broker.names.work_queue(), 5) == 5


async def test_serve_runs_until_its_shutdown_event_is_set(broker: BrokerKit) -> None:
    shutdown = asyncio.Event()
    ports: list[int] = []
    serving = asyncio.create_task(
        serve(broker.settings(producer_bind="127.0.0.1:0"), shutdown, on_started=ports.append)
    )
    await eventually(lambda: bool(ports))
    async with aiohttp.ClientSession() as session:
        await eventually_ready(session, ports[0])
        async with session.post(
            f"http://127.0.0.1:{ports[0]}/v1/submissions",
            data=orjson.dumps(KOMO_BODY),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 202
    assert not serving.done()
    shutdown.set()
    await asyncio.wait_for(serving, 10)
    assert serving.exception() is None
    assert await broker.count(broker.names.work_queue()) == 1


async def eventually_ready(session: aiohttp.ClientSession, port: int) -> None:
    async with asyncio.timeout(15):
        while True:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.05)
