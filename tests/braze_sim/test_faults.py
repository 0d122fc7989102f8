"""Every fault, at start and at run time: 5xx share, latency, hanging, 401 window, outage, 429 storm."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from braze_sim.client import SimAdminError
from braze_sim.testing import RunningSim, running_sim
from tests.braze_sim.helpers import BrazeCaller, attrs

ONE = attrs({"external_id": "u1", "first_name": "Ada"})
RATE_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


async def test_a_share_of_5xx_answers(session: aiohttp.ClientSession) -> None:
    async with running_sim(error_rate=0.5, seed=3) as sim:
        braze = BrazeCaller(session, sim.url)
        statuses = [(await braze.track(ONE)).status for _ in range(60)]
        assert set(statuses) == {201, 500, 502, 503}
        failed = sum(s != 201 for s in statuses)
        assert 15 <= failed <= 45
        stats = await sim.client.stats()
        # a 5xx applies nothing: only the 201s were counted as objects
        assert stats["objects"]["attributes"] == statuses.count(201)


async def test_chosen_5xx_codes_carry_rate_limit_headers(session: aiohttp.ClientSession) -> None:
    async with running_sim(error_rate=1.0, error_statuses=(502,)) as sim:
        answer = await BrazeCaller(session, sim.url).track(ONE)
        assert answer.status == 502
        assert answer.body == {"message": "Bad Gateway"}
        assert set(answer.headers) >= RATE_HEADERS
        assert await sim.client.profiles() == []


async def test_fixed_and_random_latency(session: aiohttp.ClientSession) -> None:
    async with running_sim(latency_ms=150) as sim:
        braze = BrazeCaller(session, sim.url)
        started = time.perf_counter()
        assert (await braze.track(ONE)).status == 201
        assert time.perf_counter() - started >= 0.15
        await sim.client.set_faults(latency_ms=0, latency_jitter_ms=80)
        elapsed = []
        for _ in range(8):
            started = time.perf_counter()
            await braze.track(ONE)
            elapsed.append(time.perf_counter() - started)
        assert max(elapsed) < 0.5
        assert max(elapsed) - min(elapsed) > 0.005  # random, not fixed
        logged = await sim.client.requests(limit=8)
        assert all(entry["latency_ms"] <= 80 + 50 for entry in logged)


async def test_a_hanging_request_ends_in_a_client_timeout(session: aiohttp.ClientSession) -> None:
    async with running_sim(hang_rate=1.0) as sim:
        braze = BrazeCaller(session, sim.url)
        with pytest.raises(asyncio.TimeoutError):
            await braze.track(ONE, timeout_s=0.3)
        assert (await sim.client.stats())["hanging"] == 1
        await sim.client.set_faults(hang_rate=0.0)
        assert (await braze.track(ONE)).status == 201
        started = time.perf_counter()
    # leaving the block stops the simulator at once, hanging request or not
    assert time.perf_counter() - started < 5


async def test_a_window_of_401(session: aiohttp.ClientSession) -> None:
    async with running_sim(unauthorized_for_s=0.4) as sim:
        braze = BrazeCaller(session, sim.url)
        answer = await braze.track(ONE)
        assert answer.status == 401
        assert not RATE_HEADERS & set(answer.headers)
        await asyncio.sleep(0.45)
        assert (await braze.track(ONE)).status == 201
        assert (await sim.client.requests(status=401))[0]["note"] == "401 window"


async def test_a_window_of_403_for_known_keys_only(session: aiohttp.ClientSession) -> None:
    async with running_sim(forbidden_for_s=0.4) as sim:
        braze = BrazeCaller(session, sim.url)
        answer = await braze.track(ONE)
        assert answer.status == 403
        assert "users.track" in answer.body["message"]
        assert not RATE_HEADERS & set(answer.headers)
        assert (await braze.track(ONE, key="unknown")).status == 401
        await asyncio.sleep(0.45)
        assert (await braze.track(ONE)).status == 201


async def test_an_outage_answers_503_to_everyone_then_recovers(session: aiohttp.ClientSession) -> None:
    async with running_sim(outage_for_s=0.4) as sim:
        braze = BrazeCaller(session, sim.url)
        for key in ("test-key", "wrong-key"):
            answer = await braze.track(ONE, key=key)
            assert answer.status == 503  # the load balancer answers before any key is looked at
            assert not RATE_HEADERS & set(answer.headers)
        await asyncio.sleep(0.45)
        assert (await braze.track(ONE)).status == 201


async def test_an_outage_that_drops_connections(session: aiohttp.ClientSession) -> None:
    async with running_sim(outage_for_s=0.4, outage_mode="drop") as sim:
        braze = BrazeCaller(session, sim.url)
        with pytest.raises(aiohttp.ClientConnectionError):
            await braze.track(ONE)
        await asyncio.sleep(0.45)
        assert (await braze.track(ONE)).status == 201
        assert (await sim.client.stats())["by_status"] == {"0": 1, "201": 1}


async def test_a_storm_of_429_ignores_the_window(session: aiohttp.ClientSession) -> None:
    async with running_sim(rate_limit="1000/1h", storm_429_for_s=0.4) as sim:
        braze = BrazeCaller(session, sim.url)
        answers = [await braze.track(ONE) for _ in range(3)]
        assert {a.status for a in answers} == {429}
        assert {a.headers["X-RateLimit-Remaining"] for a in answers} == {"0"}
        await asyncio.sleep(0.45)
        after = await braze.track(ONE)
        assert after.status == 201
        assert after.headers["X-RateLimit-Remaining"] == "999"  # the storm used none of the budget
        assert (await sim.client.stats())["rate_limited"] == 3


async def test_faults_change_at_run_time(braze: BrazeCaller, sim: RunningSim) -> None:
    assert (await braze.track(ONE)).status == 201
    described = await sim.client.set_faults(error_rate=1.0, error_statuses=(503,), storm_429_for_s=60)
    assert described["error_statuses"] == [503]
    assert described["remaining_s"]["storm_429"] > 59
    assert (await braze.track(ONE)).status == 429
    described = await sim.client.set_faults(storm_429_for_s=0)
    assert (await braze.track(ONE)).status == 503
    described = await sim.client.set_faults(outage_for_s=30)
    assert described["error_rate"] == 1.0  # a change keeps the other faults
    assert (await braze.track(ONE)).status == 503
    cleared = await sim.client.set_faults(clear=True)
    assert cleared["remaining_s"] == {"unauthorized": 0.0, "forbidden": 0.0, "outage": 0.0, "storm_429": 0.0}
    assert cleared["error_rate"] == 0.0
    assert (await braze.track(ONE)).status == 201
    assert (await sim.client.stats())["faults_active"] is False


async def test_bad_faults_are_refused(sim: RunningSim) -> None:
    with pytest.raises(SimAdminError) as too_high:
        await sim.client.set_faults(error_rate=2)
    assert too_high.value.status == 400
    with pytest.raises(SimAdminError, match="unknown fault"):
        await sim.client.set_faults(explode=True)
    with pytest.raises(SimAdminError, match="5xx"):
        await sim.client.set_faults(error_rate=0.1, error_statuses=[404])
    with pytest.raises(ValueError, match="unknown fault"):
        async with running_sim(flood=1):
            pass
