from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from devtools.components import ComponentFailed, component_env, start_component
from tests.broker import BrokerKit


def test_the_child_environment_carries_the_settings_as_variables() -> None:
    env = component_env(prefix="p1", producer_bind="127.0.0.1:0")
    assert env["KOMO_BRAZE_PREFIX"] == "p1"
    assert env["KOMO_BRAZE_PRODUCER_BIND"] == "127.0.0.1:0"
    assert env["KOMO_BRAZE_LOG_FORMAT"] == "json"
    assert "PATH" in env


async def test_a_component_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    env = component_env(producer_bind="no-port-here")
    with pytest.raises(ComponentFailed) as raised:
        await start_component("producer", ["producer"], env, tmp_path, ready_timeout_s=30)
    message = str(raised.value)
    assert "producer did not become ready" in message
    assert "KOMO_BRAZE_PRODUCER_BIND" in message


async def test_a_producer_is_ready_through_its_admin_port_or_with_its_token(broker: BrokerKit, tmp_path: Path) -> None:
    common = {"amqp_url": broker.amqp_url, "prefix": broker.prefix, "producer_bind": "127.0.0.1:0"}
    with_admin = component_env(**common, producer_admin_bind="127.0.0.1:0", webhook_token="tok")
    with_token = component_env(**common, webhook_token="tok")
    for env, log_dir in ((with_admin, tmp_path / "admin"), (with_token, tmp_path / "token")):
        log_dir.mkdir()
        producer = await start_component("producer", ["producer"], env, log_dir)
        try:
            async with aiohttp.ClientSession(headers=producer.admin_headers) as session:
                async with session.get(f"{producer.admin_url}/metrics") as response:
                    assert response.status == 200
                async with session.get(f"{producer.url}/metrics") as response:
                    assert response.status == (404 if env is with_admin else 200)
            assert (producer.admin_port is None) == (env is with_token)
            assert producer.admin_headers == {"Authorization": "Bearer tok"}
        finally:
            assert await producer.stop() == 0
