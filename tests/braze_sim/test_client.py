"""The admin endpoints through :class:`SimClient`: reading profiles, events, purchases, the request
log and stats, filtering, reset, and the errors it raises."""

from __future__ import annotations

import pytest

from braze_sim.client import SimAdminError, SimClient
from braze_sim.testing import RunningSim, running_sim
from tests.braze_sim import examples
from tests.braze_sim.helpers import BrazeCaller, attrs


async def test_profiles_filtered(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1", "email": "one@example.com", "team": "Swans"},
                            {"external_id": "u2", "email": "two@example.com"},
                            {"phone": "+61412345678", "first_name": "Phone"}))  # fmt: skip
    assert {p["external_id"] for p in await sim.client.profiles()} == {"u1", "u2", None}
    assert [p["external_id"] for p in await sim.client.profiles(external_id="u2")] == ["u2"]
    assert [p["external_id"] for p in await sim.client.profiles(email="ONE@example.com")] == ["u1"]
    assert [p["external_id"] for p in await sim.client.profiles(has="team")] == ["u1"]
    assert [p["phone"] for p in await sim.client.profiles(phone="+61412345678")] == ["+61412345678"]
    assert len(await sim.client.profiles(limit=2)) == 2
    assert await sim.client.profile(external_id="nobody") is None
    with pytest.raises(SimAdminError, match="no such workspace"):
        await sim.client.profiles(workspace="elsewhere")


async def test_events_and_purchases_filtered(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track({"events": examples.EVENTS_EXAMPLE, "purchases": examples.PURCHASES_EXAMPLE})
    events = await sim.client.events(external_id="user1")
    assert [e["name"] for e in events] == ["watched_trailer", "rented_movie"]
    assert events[1]["properties"] == {"movie": "The Sad Egg", "director": "Dan Alexander"}
    assert events[1]["workspace"] == "ws1"
    assert [e["name"] for e in await sim.client.events(name="rented_movie")] == ["rented_movie"]
    assert len(await sim.client.events(limit=1)) == 1
    purchases = await sim.client.purchases(product_id="pencil")
    assert [(p["product_id"], p["price"]) for p in purchases] == [("pencil", 2.0)]
    assert len(await sim.client.purchases()) == 2  # the alias-keyed one names nobody


async def test_request_log_and_stats(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1"}, {"first_name": "x"}))
    await braze.track(attrs({"external_id": "u1"}), key="nope")
    log = await sim.client.requests()
    assert [entry["status"] for entry in log] == [401, 201]  # latest first
    assert (log[1]["workspace"], log[1]["attributes"], log[1]["errors"]) == ("ws1", 2, 1)
    assert log[1]["latency_ms"] >= 0
    assert [e["status"] for e in await sim.client.requests(status=201)] == [201]
    stats = await sim.client.stats()
    assert stats["requests"] == 2
    assert stats["by_status"] == {"201": 1, "401": 1}
    assert stats["objects"] == {"attributes": 2, "events": 0, "purchases": 0}
    assert stats["rejected_objects"]["attributes"] == 1
    assert stats["profiles"] == {"ws1": 1}


async def test_reset_forgets_everything_but_faults(braze: BrazeCaller, sim: RunningSim) -> None:
    await sim.client.set_rate_limit("2/1h")
    await braze.track(attrs({"external_id": "u1"}))
    await braze.track({"events": examples.EVENTS_EXAMPLE[:1]})
    await sim.client.set_faults(latency_ms=1)
    await sim.client.reset()
    assert await sim.client.profiles() == []
    assert await sim.client.events() == []
    assert await sim.client.requests() == []
    assert (await sim.client.stats())["requests"] == 0
    assert (await sim.client.faults())["latency_ms"] == 1
    answer = await braze.track(attrs({"external_id": "u1"}))
    assert answer.headers["X-RateLimit-Remaining"] == "1"  # a fresh window of the limit set before


async def test_bad_admin_requests(sim: RunningSim) -> None:
    with pytest.raises(SimAdminError, match="rate like"):
        await sim.client.set_rate_limit("fast")
    with pytest.raises(SimAdminError, match="no such workspace"):
        await sim.client.set_rate_limit("1/1s", workspace="nowhere")
    with pytest.raises(SimAdminError) as no_identifier:
        await sim.client.profile()
    assert no_identifier.value.status == 400
    with pytest.raises(SimAdminError, match="limit"):
        await sim.client.events(limit=-1)


async def test_the_client_is_an_async_context_manager() -> None:
    async with running_sim() as sim, SimClient(sim.url + "/") as client:
        assert client.base_url == sim.url
        assert (await client.stats())["requests"] == 0
    await client.close()  # closing twice is harmless
