"""The shared limit against a real Redis: burst, steady rate across processes, correction by Braze's
headers and by a 429, and failing open when Redis is killed or frozen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from tests.own_redis import own_redis
from worker.metrics import WorkerMetrics
from worker.ratelimit_headers import RateLimitHeaders
from worker.state.limiter import OtherClients, SharedLimiter
from worker.state.link import RedisLink

# limit 100 per 98 s: one request per second at 98% of the limit, a burst of 1
ONE_PER_S = {"limit": 100, "window_s": 98.0}
TOLERANCE_S = 0.25  # Redis computes the waits; this much may pass between two calls on a busy machine


def _limiter(link: RedisLink, key: str, **options: object) -> SharedLimiter:
    settings: dict[str, object] = {**ONE_PER_S, "workspace": "default", "metrics": WorkerMetrics()}
    settings.update(options)
    return SharedLimiter(link, key, **settings)  # type: ignore[arg-type]


def _headers(
    remaining: int, reset_in_s: float, limit: int = 100, retry_after_s: float | None = None
) -> RateLimitHeaders:
    return RateLimitHeaders(limit, remaining, time.time() + reset_in_s, retry_after_s)


async def _grant(limiter: SharedLimiter) -> tuple[int, float]:
    """A grant's sequence number and wait (Redis answering)."""
    granted = await limiter.grant()
    assert granted is not None
    return granted


async def _waits(limiter: SharedLimiter, count: int) -> list[float]:
    return [(await _grant(limiter))[1] for _ in range(count)]


@pytest.fixture
async def two_processes(
    redis_link: RedisLink, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[SharedLimiter, SharedLimiter]]:
    """Two limiters on one key, each with its own connection, as two worker processes have."""
    second_link = RedisLink(redis_url, timeout_s=5.0)
    key = f"{key_prefix}:limit"
    yield _limiter(redis_link, key), _limiter(second_link, key)
    await second_link.close()


async def test_a_fresh_limit_lets_its_burst_start_at_once_and_spaces_the_rest(
    redis_link: RedisLink, key_prefix: str
) -> None:
    limiter = _limiter(redis_link, f"{key_prefix}:limit", limit=300, window_s=294.0)  # 1/s, burst 3
    assert limiter.burst() == 3
    waits = await _waits(limiter, 6)
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([1.0, 2.0, 3.0], abs=TOLERANCE_S)


async def test_processes_sharing_a_key_get_distinct_evenly_spaced_slots(
    two_processes: tuple[SharedLimiter, SharedLimiter],
) -> None:
    first, second = two_processes
    grants = await asyncio.gather(*(_grant(limiter) for _ in range(10) for limiter in (first, second)))
    seqs = sorted(seq for seq, _ in grants)
    waits = sorted(wait for _, wait in grants)
    assert seqs == list(range(1, 21))
    assert waits == pytest.approx([float(n) for n in range(20)], abs=TOLERANCE_S)


async def test_a_reservation_waits_for_its_slot(redis_link: RedisLink, key_prefix: str) -> None:
    limiter = _limiter(redis_link, f"{key_prefix}:limit", limit=100, window_s=0.98)  # one per 10 ms
    started = time.monotonic()
    seqs = [await limiter.reserve() for _ in range(31)]
    assert seqs == list(range(1, 32))
    assert time.monotonic() - started >= 0.3  # 30 intervals after the first, never fewer


async def test_a_slot_asked_ahead_rides_with_the_next_call_and_its_wait_counts_from_its_answer(
    redis_link: RedisLink, key_prefix: str
) -> None:
    limiter = _limiter(redis_link, f"{key_prefix}:limit")  # one per second, a burst of 1
    assert await _grant(limiter) == (1, 0.0)
    echo = redis_link.script("return ARGV[1]")
    await echo(args=["load"])
    before = redis_link.round_trips
    limiter.ask_ahead()
    assert await echo(args=["a batch's claim"]) == b"a batch's claim"
    assert redis_link.round_trips - before == 1  # the slot was asked in the claim's round trip
    await asyncio.sleep(0.4)
    seq, wait_s = await _grant(limiter)  # taken, not asked again: its slot is 1 s after the first's
    assert seq == 2
    assert wait_s == pytest.approx(0.6, abs=TOLERANCE_S)
    assert redis_link.round_trips - before == 1
    assert await _grant(limiter) == (3, pytest.approx(1.6, abs=TOLERANCE_S))  # asked now: the slot after


async def test_a_slot_asked_ahead_and_left_unused_long_past_is_dropped_not_used_late(
    redis_link: RedisLink, key_prefix: str
) -> None:
    """A batch that had nothing to send leaves its slot to the next request; one whose time is long past would
    start on top of the current window's slots, so the next request asks afresh."""
    limiter = _limiter(redis_link, f"{key_prefix}:limit", limit=100, window_s=9.8)  # one per 0.1 s, burst 1
    assert await _grant(limiter) == (1, 0.0)
    limiter.ask_ahead()  # slot 2, 0.1 s from now
    await asyncio.sleep(0.35)  # 0.25 s past it: more than one interval
    seq, wait_s = await _grant(limiter)
    assert seq == 3
    assert wait_s == pytest.approx(0.0, abs=TOLERANCE_S)
    limiter.ask_ahead()  # slot 4: taken while still good
    await asyncio.sleep(0.05)
    assert (await _grant(limiter))[0] == 4


async def test_a_budget_learnt_while_a_slot_is_on_its_way_travels_with_the_next_one(
    redis_link: RedisLink, key_prefix: str
) -> None:
    """The answer to a reservation clears only the budget that reservation carried: one learnt meanwhile
    (Braze says nothing is left until the reset) is written by the next."""
    limiter = _limiter(redis_link, f"{key_prefix}:limit")  # one per second
    assert await _grant(limiter) == (1, 0.0)
    limiter.ask_ahead()  # carries no budget
    await limiter.learn(1, _headers(remaining=0, reset_in_s=5.0))  # learnt before that slot's answer came
    assert (await _grant(limiter))[0] == 2
    seq, wait_s = await _grant(limiter)  # carries the budget: nothing left until the reset
    assert seq == 3
    assert wait_s == pytest.approx(5.0, abs=TOLERANCE_S)


async def test_a_slot_asked_ahead_is_dropped_by_resume_and_one_that_failed_fails_open(
    redis_link: RedisLink, key_prefix: str
) -> None:
    limiter = _limiter(redis_link, f"{key_prefix}:limit")
    await _grant(limiter)
    limiter.ask_ahead()
    await asyncio.sleep(0.1)
    await limiter.resume()  # the schedule is dropped, and the slot asked with it
    assert await _grant(limiter) == (3, 0.0)  # its sequence number was used, its slot was not
    async with own_redis() as server:
        link = RedisLink(server.url, timeout_s=0.5)
        try:
            other = _limiter(link, f"{key_prefix}:limit", retry_s=0.2)
            other.ask_ahead()
            await asyncio.sleep(0.1)
            await server.kill()
            other.ask_ahead()  # on its way when Redis went
            assert await other.reserve() == 1  # answered before the kill
            with structlog.testing.capture_logs() as events:
                assert await other.reserve() is None
            assert [e["event"] for e in events] == ["shared_limit_unavailable"]
        finally:
            await link.close()


async def test_a_header_budget_lower_than_the_shared_state_makes_every_process_wait_for_the_reset(
    two_processes: tuple[SharedLimiter, SharedLimiter],
) -> None:
    first, second = two_processes
    assert await first.grant() == (1, 0.0)
    # Braze: 4 left after request 1 (another client spends the key too): grants up to 1 + 4 - 2 (margin)
    await first.learn(1, _headers(remaining=4, reset_in_s=30.0))
    granted = await _grant(first)  # carries the correction to Redis
    assert granted == pytest.approx((2, 1.0), abs=TOLERANCE_S)
    granted = await _grant(first)
    assert granted == pytest.approx((3, 2.0), abs=TOLERANCE_S)
    granted = await _grant(second)  # the other process, which saw no header, waits for the reset too
    assert granted == pytest.approx((4, 30.0), abs=TOLERANCE_S)


async def test_a_budget_left_with_little_time_left_is_spread_over_the_time_to_the_reset(
    redis_link: RedisLink, key_prefix: str
) -> None:
    """After a stall the schedule catches up: what Braze still takes is spread until its reset."""
    limiter = _limiter(redis_link, f"{key_prefix}:limit")
    assert await limiter.grant() == (1, 0.0)
    # grants 2 to 12 before the reset: 1 + 13 - 2 (the margin, which is also the 2% headroom of 100)
    await limiter.learn(1, _headers(remaining=13, reset_in_s=5.0))
    waits = await _waits(limiter, 13)
    step_s = 4.0 / 11  # the 4 s from the next slot to the reset, over the 11 grants left
    assert waits[:11] == pytest.approx([1.0 + n * step_s for n in range(11)], abs=TOLERANCE_S)
    assert waits[11:] == pytest.approx([5.0, 6.0], abs=TOLERANCE_S)  # from the reset on: the steady rate


async def test_a_429_stops_every_process_until_the_reset_at_once(
    two_processes: tuple[SharedLimiter, SharedLimiter],
) -> None:
    first, second = two_processes
    assert await first.grant() == (1, 0.0)
    await first.learn(1, _headers(remaining=0, reset_in_s=20.0), refused=True)  # written without a grant
    granted = await _grant(second)
    assert granted[1] == pytest.approx(20.0, abs=TOLERANCE_S)
    # a Retry-After longer than the reset is believed over the reset
    await first.learn(2, _headers(remaining=0, reset_in_s=20.0, retry_after_s=40.0), refused=True)
    granted = await _grant(second)
    assert granted[1] == pytest.approx(40.0, abs=TOLERANCE_S)


async def test_resume_ends_a_far_block_for_every_process_and_wakes_the_grants_waiting_here(
    two_processes: tuple[SharedLimiter, SharedLimiter],
) -> None:
    first, second = two_processes
    assert await first.grant() == (1, 0.0)
    await first.learn(1, _headers(remaining=0, reset_in_s=3000.0), refused=True)  # an absurd 429
    waiting = asyncio.create_task(first.reserve())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    assert first.blocked_for_s() == pytest.approx(3000.0, abs=5.0)
    await first.resume()  # a probe found Braze taking requests again
    async with asyncio.timeout(2):
        assert await waiting is not None  # woken, with a slot of the schedule as it is now
    assert first.blocked_for_s() == 0.0
    assert (await _grant(second))[1] < 2.0  # the other process's next grant is not held either


async def test_a_later_windows_budget_replaces_an_earlier_one(redis_link: RedisLink, key_prefix: str) -> None:
    """Braze's clock a little ahead of Redis's: the next window's answers must not wait for the old reset."""
    limiter = _limiter(redis_link, f"{key_prefix}:limit")
    await limiter.grant()
    await limiter.learn(1, _headers(remaining=0, reset_in_s=10.0))
    await limiter.learn(1, _headers(remaining=90, reset_in_s=10.0 + 97.0))  # the next window
    granted = await _grant(limiter)
    assert granted[1] == pytest.approx(1.0, abs=TOLERANCE_S)
    await limiter.learn(2, _headers(remaining=0, reset_in_s=10.0))  # a late answer of the earlier window
    granted = await _grant(limiter)
    assert granted[1] == pytest.approx(2.0, abs=TOLERANCE_S)


async def test_the_limit_and_the_window_are_learnt_from_the_headers(redis_link: RedisLink, key_prefix: str) -> None:
    limiter = _limiter(redis_link, f"{key_prefix}:limit", limit=3000, window_s=3.0)
    reset = float(int(time.time()) + 100)
    await limiter.learn(None, RateLimitHeaders(50, 49, reset, None))
    await limiter.learn(None, RateLimitHeaders(50, 49, reset + 0.5, None))  # consecutive windows
    assert (limiter.limit, limiter.window_s) == (50, 0.5)
    assert limiter.interval_s() == pytest.approx(0.5 / (50 * 0.98))
    await limiter.learn(None, RateLimitHeaders(50, 49, reset + 5.0, None))  # after an idle spell: no longer
    assert limiter.window_s == 0.5


async def test_a_killed_redis_fails_open_at_once_and_the_limit_is_shared_again_when_it_is_back(
    tmp_path: Path, key_prefix: str
) -> None:
    metrics = WorkerMetrics()
    async with own_redis() as server:
        link = RedisLink(server.url, timeout_s=0.5)
        try:
            limiter = _limiter(link, f"{key_prefix}:limit", metrics=metrics, retry_s=0.5)
            assert await limiter.reserve() == 1
            assert metrics.value("shared_limit", workspace="default") == 1
            await server.kill()
            with structlog.testing.capture_logs() as events:
                started = time.monotonic()
                assert await limiter.reserve() is None
                assert time.monotonic() - started < 0.6
                assert await limiter.reserve() is None  # not asked again before retry_s
            assert [e["event"] for e in events] == ["shared_limit_unavailable"]
            assert events[0]["error"] == "ConnectionError"
            assert not limiter.shared
            assert metrics.value("shared_limit", workspace="default") == 0
            assert metrics.value("shared_limit_fallbacks_total", workspace="default") == 2
            await server.start()  # a fresh, empty Redis on the same port
            await asyncio.sleep(0.5)
            with structlog.testing.capture_logs() as events:
                assert await limiter.reserve() == 1
            assert [e["event"] for e in events] == ["shared_limit_restored"]
            assert limiter.shared
            assert metrics.value("shared_limit", workspace="default") == 1
        finally:
            await link.close()


async def test_a_frozen_redis_fails_open_within_the_timeout(tmp_path: Path, key_prefix: str) -> None:
    async with own_redis() as server:
        link = RedisLink(server.url, timeout_s=1.0)
        try:
            limiter = _limiter(link, f"{key_prefix}:limit", timeout_s=0.3, retry_s=0.2)
            assert await limiter.reserve() == 1
            server.freeze()
            started = time.monotonic()
            assert await limiter.reserve() is None
            assert 0.3 <= time.monotonic() - started < 1.0
            server.thaw()
            await asyncio.sleep(0.2)
            # the same Redis, its state kept; the reservation that timed out ran when Redis woke, or not
            assert await limiter.reserve() in (2, 3)
        finally:
            await link.close()


def test_requests_nobody_granted_are_counted_as_another_clients_rate() -> None:
    others = OtherClients()
    others.observe(seq=10, remaining=100, reset_s=1000.0, at_s=0.0)  # the window's first answer
    others.observe(seq=12, remaining=90, reset_s=1000.0, at_s=0.1)  # too soon to tell from order noise
    assert others.per_s == 0.0
    others.observe(seq=20, remaining=80, reset_s=1000.0, at_s=0.5)  # 20 counted, 10 of them granted here
    assert others.per_s == pytest.approx(20.0)
    others.observe(seq=30, remaining=140, reset_s=1003.0, at_s=1.0)  # a new window starts the count again
    others.observe(seq=40, remaining=130, reset_s=1003.0, at_s=2.0)  # only our own 10
    assert others.per_s == 0.0
