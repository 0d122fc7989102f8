"""What the simulator keeps: about the latest events up to its limit, while the counters count all."""

from __future__ import annotations

from braze_sim.config import SimConfig
from braze_sim.kept import KeptLog
from braze_sim.state import SimState, kept_json


def test_the_latest_requests_are_kept_and_every_object_counted() -> None:
    state = SimState(SimConfig.from_keys(["k"], max_kept_records=2))
    workspace = state.workspace("k")
    for request in range(3):
        events = [{"external_id": "u1", "name": f"e{request}.{i}", "time": "2024-01-01T00:00:00Z"} for i in range(2)]
        assert state.track(workspace, ([], events, [])).processed == {"events_processed": 2}
    assert [kept.obj["name"] for kept in state.events] == ["e2.0", "e2.1"]
    assert len(state.events) == 2
    assert state.objects["events"] == 6
    profile = workspace.profiles.find({"external_id": "u1"})
    assert profile is not None
    assert profile.event_count == 6
    first = next(iter(state.events))
    assert kept_json(first, profile)["external_id"] == "u1"
    assert kept_json(first, profile)["braze_id"] == profile.braze_id


def test_a_request_larger_than_the_limit_is_kept_whole() -> None:
    log = KeptLog(max_records=2)
    log.add("ws1", ["b1", "b2", "b3"], [{"n": 1}, {"n": 2}, {"n": 3}], at=1.0)
    assert len(log) == 3
    log.add("ws1", ["b4", "b5"], [{"n": 4}, {"n": 5}], at=2.0)
    assert [(k.braze_id, k.obj["n"]) for k in log] == [("b4", 4), ("b5", 5)]
