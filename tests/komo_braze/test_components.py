from __future__ import annotations

from pathlib import Path

import pytest

from komo_braze.components import ComponentFailed, component_env, start_component


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
