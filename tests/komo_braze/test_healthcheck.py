"""``python -m komo_braze.healthcheck``: the image's HEALTHCHECK, run as Docker would run it."""

from __future__ import annotations

import asyncio
import sys

from braze_sim.testing import running_sim
from komo_braze.healthcheck import health_urls
from komo_braze.settings import load_settings
from producer.app import Producer
from tests.broker import BrokerKit
from tests.own_broker import free_port


async def healthcheck(env: dict[str, str], *urls: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "komo_braze.healthcheck",
        *urls,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, err.decode()


def test_it_asks_the_admin_bind_before_the_intake_and_loopback_for_all_interfaces() -> None:
    settings = load_settings(producer_bind="0.0.0.0:8080", worker_metrics_bind="0.0.0.0:9108")
    assert health_urls(settings) == ["http://127.0.0.1:8080/healthz", "http://127.0.0.1:9108/healthz"]
    settings = load_settings(producer_admin_bind="0.0.0.0:9180", worker_metrics_bind="10.1.2.3:9108")
    assert health_urls(settings) == ["http://127.0.0.1:9180/healthz", "http://10.1.2.3:9108/healthz"]


async def test_a_running_producer_is_healthy_and_a_stopped_one_is_not(broker: BrokerKit) -> None:
    port, worker_port = free_port(), free_port()
    env = broker.env(
        KOMO_BRAZE_PRODUCER_BIND=f"0.0.0.0:{port}", KOMO_BRAZE_WORKER_METRICS_BIND=f"0.0.0.0:{worker_port}"
    )
    producer = Producer(broker.settings(producer_bind=f"127.0.0.1:{port}", webhook_token=["tok"]))
    await producer.start()
    try:
        assert await healthcheck(env) == (0, "")
    finally:
        await producer.stop()
    status, err = await healthcheck(env)
    assert status == 1
    assert err.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz: ")
    assert f"http://127.0.0.1:{worker_port}/healthz: " in err


async def test_urls_given_are_asked_instead_of_the_settings(broker: BrokerKit) -> None:
    async with running_sim() as sim:
        assert await healthcheck(broker.env(), f"{sim.url}/healthz") == (0, "")
        status, err = await healthcheck(broker.env(), f"{sim.url}/no-such-page")
    assert status == 1
    assert err == f"unhealthy: {sim.url}/no-such-page: status 404\n"


async def test_a_bad_setting_is_unhealthy_with_the_variable_named(broker: BrokerKit) -> None:
    status, err = await healthcheck(broker.env(KOMO_BRAZE_WORKER_METRICS_BIND="no-port"))
    assert status == 1
    assert err.startswith("unhealthy: bad setting: KOMO_BRAZE_WORKER_METRICS_BIND")
