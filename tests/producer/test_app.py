from __future__ import annotations

import asyncio
import re

import aiohttp
import orjson

from producer.app import Producer, serve
from producer.auth import SIGNATURE_HEADER, sign
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY
from tests.producer.conftest import Intake, StartIntake
from tests.proxy import TcpProxy
from tests.waiting import eventually

PATHS = ("/healthz", "/readyz", "/metrics")
JSON = {"Content-Type": "application/json"}


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
            # the connection is gone; the robust connection keeps trying
            await eventually(lambda: not intake.producer.publisher.ready, what="the lost connection noticed")
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


async def status_of(session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None) -> int:
    async with session.get(url, headers=headers or {}) as response:
        return response.status


async def test_with_an_admin_bind_metrics_and_readyz_leave_the_intake_port(broker: BrokerKit) -> None:
    settings = broker.settings(producer_admin_bind="127.0.0.1:0", webhook_token=["tok"], reconnect_interval_s=0.2)
    producer = Producer(settings)
    await producer.start(port=0, admin_port=0)
    try:
        assert await producer.publisher.wait_ready(15)
        public, admin = f"http://127.0.0.1:{producer.port}", f"http://127.0.0.1:{producer.admin_port}"
        assert producer.admin_port not in (None, producer.port)
        async with aiohttp.ClientSession() as session:
            bearer = {"Authorization": "Bearer tok"}
            assert [await status_of(session, f"{public}{path}", bearer) for path in PATHS] == [200, 404, 404]
            assert [await status_of(session, f"{admin}{path}") for path in PATHS] == [200, 200, 200]
            async with session.post(
                f"{public}/v1/submissions", data=orjson.dumps(KOMO_BODY), headers={**bearer, **JSON}
            ) as response:
                assert response.status == 202
            async with session.get(f"{admin}/metrics") as response:
                assert re.search(r'_requests_total\{status="202"\} 1\.0$', await response.text(), re.MULTILINE)
            async with session.post(f"{admin}/v1/submissions", data=orjson.dumps(KOMO_BODY), headers=JSON) as response:
                assert response.status == 404  # the admin port takes no submissions
    finally:
        await producer.stop()
    assert await broker.count(broker.names.work_queue()) == 1


async def test_without_an_admin_bind_metrics_and_readyz_need_the_intake_credentials(broker: BrokerKit) -> None:
    settings = broker.settings(webhook_token=["tok"], webhook_hmac_secret="hmac-key", reconnect_interval_s=0.2)
    producer = Producer(settings)
    await producer.start(port=0)
    try:
        assert await producer.publisher.wait_ready(15)
        public = f"http://127.0.0.1:{producer.port}"
        async with aiohttp.ClientSession() as session:
            assert [await status_of(session, f"{public}{path}") for path in PATHS] == [200, 401, 401]
            wrong = {"Authorization": "Bearer nope"}
            assert [await status_of(session, f"{public}{path}", wrong) for path in PATHS] == [200, 401, 401]
            bearer = {"Authorization": "Bearer tok"}
            assert [await status_of(session, f"{public}{path}", bearer) for path in PATHS] == [200, 200, 200]
            signed = {SIGNATURE_HEADER: sign("hmac-key", b"")}
            assert [await status_of(session, f"{public}{path}", signed) for path in PATHS] == [200, 200, 200]
    finally:
        await producer.stop()


async def test_an_open_loopback_intake_keeps_its_admin_routes_open(start_intake: StartIntake) -> None:
    async with start_intake() as intake:
        assert [await status_of(intake.session, f"{intake.url}{path}") for path in PATHS] == [200, 200, 200]
