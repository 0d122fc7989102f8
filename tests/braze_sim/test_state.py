"""What the simulator keeps: the latest events up to its limit, while the counters count everything."""

from __future__ import annotations

from braze_sim.config import SimConfig
from braze_sim.state import SimState, tracked_json


def test_only_the_latest_records_are_kept_but_all_are_counted() -> None:
    state = SimState(SimConfig.from_keys(["k"], max_kept_records=2))
    workspace = state.workspace("k")
    events = [{"external_id": "u1", "name": f"e{i}", "time": "2024-01-01T00:00:00Z"} for i in range(5)]
    outcome = state.track(workspace, ([], events, []))
    assert outcome.processed == {"events_processed": 5}
    assert [tracked_json(r, None)["name"] for r in state.events] == ["e3", "e4"]
    assert state.objects["events"] == 5
    profile = workspace.profiles.find({"external_id": "u1"})
    assert profile is not None
    assert profile.event_count == 5
    assert tracked_json(state.events[0], profile)["external_id"] == "u1"
