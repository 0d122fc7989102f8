"""What the router does with a mapped submission's rejected fields, end to end: real broker, real
braze_sim, the worker's ``serve`` and a real mapping."""

from __future__ import annotations

import structlog

from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import acked, body, dead_letters, publish, running_worker
from tests.worker.mapping.samples import mapping

NUMBERS_MAPPING = """
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes:
      first_name: first_name
      score: {to: komo_last_score, type: number}
      level: {to: komo_level, type: integer}
    event: {name: komo_form_submitted}
"""


async def test_a_number_too_large_for_a_float_drops_only_that_field_and_the_rest_is_delivered(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    bodies = [
        body("u-digits", n=1, first_name="Ann", score="9" * 400, level="7"),
        body("u-integer", n=2, first_name="Bob", score="12.5", level="9" * 400),
        body("u-exponent", n=3, first_name="Cy", score="1e999", level="-1E99999999999"),
    ]
    async with running_sim() as sim, running_worker(broker, mapping(NUMBERS_MAPPING), braze_url=sim.url) as worker:
        await publish(broker, bodies)
        await eventually(acked(worker, 3), what="3 acks")
        profiles = {
            user: await sim.client.profile(external_id=user) for user in ("u-digits", "u-integer", "u-exponent")
        }
        assert len(await sim.client.events()) == 3
        assert worker.value("rejected_fields_total", attribute="komo_last_score") == 2
        assert worker.value("rejected_fields_total", attribute="komo_level") == 2
    assert await dead_letters(broker) == []
    assert all(profile is not None for profile in profiles.values())
    custom = {user: profile["custom_attributes"] for user, profile in profiles.items() if profile is not None}
    assert custom == {"u-digits": {"komo_level": 7}, "u-integer": {"komo_last_score": 12.5}, "u-exponent": {}}
    names = [profile["attributes"]["first_name"] for profile in profiles.values() if profile is not None]
    assert names == ["Ann", "Bob", "Cy"]


async def test_rejected_fields_are_logged_at_info_once_per_hub_field_and_reason_and_counted_every_time(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    bodies = [body(f"u-{n}", n=n, hub="hub-1", first_name="Ann", score="lots") for n in range(5)]
    bodies += [body(f"v-{n}", n=n, hub="hub-2", score="plenty", level="4.5") for n in range(2)]
    with structlog.testing.capture_logs() as events:
        async with running_sim() as sim, running_worker(broker, mapping(NUMBERS_MAPPING), braze_url=sim.url) as w:
            await publish(broker, bodies)
            await eventually(acked(w, 7), what="7 acks")
            assert w.value("rejected_fields_total", attribute="komo_last_score") == 7
            assert w.value("rejected_fields_total", attribute="komo_level") == 2
    logged = [
        (e["log_level"], e["hub_id"], e["field"], e["attribute"], e["reason"])
        for e in events
        if e["event"] == "field_rejected"
    ]
    assert sorted(logged) == [
        ("info", "hub-1", "score", "komo_last_score", "not a number"),
        ("info", "hub-2", "level", "komo_level", "not a whole number"),
        ("info", "hub-2", "score", "komo_last_score", "not a number"),
    ]
    shown = repr([e for e in events if e["event"] == "field_rejected"])
    for value in ("lots", "plenty", "4.5", "Ann"):
        assert value not in shown
