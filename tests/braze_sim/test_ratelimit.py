"""The rate limit: a window per API key, ``X-RateLimit-*`` on every answer past authentication,
429 once the window is spent, a fresh window at ``X-RateLimit-Reset``."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from braze_sim.ratelimit import WindowLimiter
from braze_sim.testing import running_sim
from tests.braze_sim.helpers import BrazeCaller, attrs

ONE = attrs({"external_id": "u1"})


def test_windows_are_aligned_on_the_epoch_and_reset_at_their_end() -> None:
    limiter = WindowLimiter("2/3s")
    first = limiter.take(now_s=3000.5)
    assert (first.allowed, first.remaining, first.reset_epoch_s) == (True, 1, 3003)
    assert limiter.take(now_s=3001.0).remaining == 0
    refused = limiter.take(now_s=3002.9)
    assert (refused.allowed, refused.remaining, refused.reset_epoch_s) == (False, 0, 3003)
    fresh = limiter.take(now_s=3003.0)
    assert (fresh.allowed, fresh.remaining, fresh.reset_epoch_s) == (True, 1, 3006)
    assert limiter.rejected == 1


def test_a_window_under_a_second_reports_a_reset_never_too_early() -> None:
    verdict = WindowLimiter("10/500ms").take(now_s=100.2)
    assert verdict.reset_epoch_s == 101  # the real reset is 100.5: a client waiting until 101 is safe


async def test_headers_count_down_then_429_then_a_fresh_window(session: aiohttp.ClientSession) -> None:
    async with running_sim(rate_limit="5/1s") as sim:
        braze = BrazeCaller(session, sim.url)
        # start at the beginning of a window so that the five requests fit in it
        await asyncio.sleep(1 - time.time() % 1 + 0.01)
        answers = [await braze.track(ONE) for _ in range(6)]
        assert [a.status for a in answers] == [201, 201, 201, 201, 201, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
        assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"5"}
        reset = int(answers[-1].headers["X-RateLimit-Reset"])
        assert reset == int(time.time()) + 1
        assert answers[-1].body == {"message": "Rate limit exceeded"}
        await asyncio.sleep(max(0.0, reset - time.time()) + 0.01)
        again = await braze.track(ONE)
        assert again.status == 201
        assert again.headers["X-RateLimit-Remaining"] == "4"
        assert int(again.headers["X-RateLimit-Reset"]) == reset + 1
        stats = await sim.client.stats()
        assert stats["rate_limited"] == 1
        assert stats["by_status"] == {"201": 6, "429": 1}


async def test_each_key_is_a_workspace_with_its_own_limit(session: aiohttp.ClientSession) -> None:
    async with running_sim(api_keys=("key-a", "key-b"), rate_limit="2/1h") as sim:
        braze = BrazeCaller(session, sim.url)
        assert [(await braze.track(ONE, key="key-a")).status for _ in range(3)] == [201, 201, 429]
        answer = await braze.track(ONE, key="key-b")
        assert answer.status == 201
        assert answer.headers["X-RateLimit-Remaining"] == "1"
        # profiles are per workspace too
        assert [p["workspace"] for p in await sim.client.profiles(workspace="key-b")] == ["ws2"]
        assert len(await sim.client.profiles()) == 2


async def test_refused_requests_use_the_budget_and_carry_the_headers(session: aiohttp.ClientSession) -> None:
    async with running_sim(rate_limit="3/1h") as sim:
        braze = BrazeCaller(session, sim.url)
        bad = await braze.track(None, raw=b"oops")
        assert (bad.status, bad.headers["X-RateLimit-Remaining"]) == (400, "2")
        unauthorized = await braze.track(ONE, key="nope")
        assert unauthorized.status == 401  # never reached a workspace: not counted
        assert (await braze.track(ONE)).headers["X-RateLimit-Remaining"] == "1"


async def test_the_limit_changes_at_run_time(session: aiohttp.ClientSession) -> None:
    async with running_sim(api_keys=("key-a", "b=key-b"), rate_limit="100/1h") as sim:
        braze = BrazeCaller(session, sim.url)
        assert (await braze.track(ONE, key="key-a")).headers["X-RateLimit-Limit"] == "100"
        await sim.client.set_rate_limit("1/1h", workspace="b")
        assert (await braze.track(ONE, key="key-a")).headers["X-RateLimit-Remaining"] == "98"
        assert [(await braze.track(ONE, key="key-b")).status for _ in range(2)] == [201, 429]
        await sim.client.set_rate_limit("7/1h")
        answer = await braze.track(ONE, key="key-a")
        assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == ("7", "6")
        assert (await sim.client.stats())["rate_limit"] == {"ws1": "7/3600s", "b": "7/3600s"}
