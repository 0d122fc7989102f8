"""What a simulator is started with: workspaces from keys, faults, limits."""

from __future__ import annotations

import pytest

from braze_sim.config import FaultSpec, OutageMode, SimConfig, workspaces_from_keys


def test_keys_become_named_workspaces() -> None:
    workspaces = workspaces_from_keys(["alpha", "client_b=beta"])
    assert [(w.name, w.api_key) for w in workspaces] == [("ws1", "alpha"), ("client_b", "beta")]
    assert "beta" not in repr(workspaces)


@pytest.mark.parametrize("keys", [[], ["a", "a"], ["x=a", "x=b"], ["name="]])
def test_bad_keys(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="key"):
        workspaces_from_keys(keys)


def test_faults_from_json_like_values() -> None:
    spec = FaultSpec.from_mapping({"error_statuses": [502, 503], "outage_mode": "drop", "latency_ms": 5})
    assert (spec.error_statuses, spec.outage_mode, spec.latency_ms) == ((502, 503), OutageMode.DROP, 5)
    bad_specs: list[dict[str, object]] = [
        {"hang_rate": -0.1},
        {"latency_ms": -1},
        {"hang_s": 0},
        {"latency_ms": "slow"},
        {"error_rate": True},
    ]
    for bad in bad_specs:
        with pytest.raises(ValueError):  # noqa: PT011  (each names a different field)
            FaultSpec.from_mapping(bad)


def test_config_checks_its_rate() -> None:
    assert SimConfig.from_keys(["k"], rate_limit="5/1s").rate == (5, 1.0)
    with pytest.raises(ValueError, match="rate like"):
        SimConfig.from_keys(["k"], rate_limit="5 per second")
