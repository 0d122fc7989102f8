from __future__ import annotations

import asyncio
import time

from worker.pacer import Pacer
from worker.ratelimit_headers import RateLimitHeaders


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(remaining: int, reset: float, limit: int = 3000, retry_after: float | None = None) -> RateLimitHeaders:
    return RateLimitHeaders(limit=limit, remaining=remaining, reset_epoch_s=reset, retry_after_s=retry_after)


def test_the_remaining_budget_is_spread_over_the_rest_of_the_window() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.interval_s(clock.now) == 0.0  # nothing known yet: no delay
    pacer.observe(_headers(remaining=13, reset=clock.now + 2.0, limit=100))  # 3 kept in reserve
    assert pacer.interval_s(clock.now) == 0.2
    pacer.in_flight = 5  # sent but not answered: not in the headers yet
    assert pacer.interval_s(clock.now) == 0.4
    pacer.observe(_headers(remaining=3, reset=clock.now + 2.0, limit=100))
    assert pacer.interval_s(clock.now) == 2.0  # only the reserve left: wait for the next window


def test_plenty_of_budget_means_no_noticeable_delay() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(_headers(remaining=2999, reset=clock.now + 3.0))
    assert pacer.interval_s(clock.now) < 0.0011


def test_answers_of_one_window_arriving_out_of_order_keep_the_lowest_count() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(_headers(remaining=5, reset=clock.now + 3))
    pacer.observe(_headers(remaining=9, reset=clock.now + 3))
    assert pacer.remaining == 5
    pacer.observe(_headers(remaining=2990, reset=clock.now + 6))  # a new window
    assert pacer.remaining == 2990


def test_a_429_pauses_until_retry_after_else_until_the_reset_plus_jitter() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, jitter_s=0.25)
    paused = pacer.pause_for_429(_headers(remaining=0, reset=clock.now + 2.0, retry_after=5.0))
    assert 5.0 <= paused <= 5.25
    pacer = Pacer(clock=clock, jitter_s=0.25)
    paused = pacer.pause_for_429(_headers(remaining=0, reset=clock.now + 2.0))
    assert 2.0 <= paused <= 2.25


def test_several_processes_sharing_a_window_stay_under_the_limit() -> None:
    """Three pacers that only see the shared remaining count (as three worker processes do) never
    exhaust a 100-per-second window early, and still use most of it."""
    clock = Clock()
    limit, window_s = 100, 1.0
    pacers = [Pacer(clock=clock, jitter_s=0.0) for _ in range(3)]
    next_at = [clock.now] * 3
    sent_in_window, over_limit, sent_total = 0, 0, 0
    window_end = clock.now + window_s
    end = clock.now + 10 * window_s
    while clock.now < end:
        i = min(range(3), key=lambda k: next_at[k])
        clock.now = max(clock.now, next_at[i])
        if clock.now >= window_end:
            window_end += window_s
            sent_in_window = 0
        sent_in_window += 1
        sent_total += 1
        over_limit += sent_in_window > limit
        pacer = pacers[i]
        pacer.observe(_headers(remaining=max(0, limit - sent_in_window), reset=window_end, limit=limit))
        next_at[i] = max(clock.now + pacer.interval_s(clock.now), pacer.paused_until) + 0.0005
    assert over_limit == 0
    assert sent_total >= 0.6 * 10 * limit


async def test_acquire_waits_for_the_pause_to_end() -> None:
    pacer = Pacer(jitter_s=0.0)
    pacer.pause_for_429(RateLimitHeaders(None, None, None, retry_after_s=0.3))
    started = time.monotonic()
    await asyncio.wait_for(pacer.acquire(), 2)
    assert time.monotonic() - started >= 0.25
    assert pacer.in_flight == 1
    pacer.done()
    assert pacer.in_flight == 0


async def test_a_static_limit_spaces_requests_evenly() -> None:
    pacer = Pacer(static_limit=(10, 1.0))
    started = time.monotonic()
    for _ in range(4):
        await asyncio.wait_for(pacer.acquire(), 2)
        pacer.done()
    assert time.monotonic() - started >= 0.29


def test_a_429_pauses_at_least_a_second_whatever_it_says() -> None:
    clock = Clock()
    for retry_after in (0.0, None):
        pacer = Pacer(clock=clock, jitter_s=0.0)
        assert pacer.pause_for_429(RateLimitHeaders(None, None, None, retry_after)) == 1.0
    pacer = Pacer(clock=clock, jitter_s=0.0)
    assert pacer.pause_for_429(_headers(remaining=0, reset=clock.now - 5)) == 1.0


def test_a_429_pauses_until_the_reset_as_read_even_past_an_hour() -> None:
    clock = Clock()  # the pause cap bounds the Reset when it is read (KOMO_BRAZE_BRAZE_MAX_PAUSE_S, up to a day)
    pacer = Pacer(clock=clock, jitter_s=0.0)
    assert pacer.pause_for_429(_headers(remaining=0, reset=clock.now + 7200)) == 7200


def test_a_sane_reset_after_a_wrong_one_is_taken_not_ignored_as_late() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, jitter_s=0.0)
    pacer.observe(_headers(remaining=10, reset=clock.now + 3600))  # a far Reset, clamped when read
    pacer.observe(_headers(remaining=2990, reset=clock.now + 3))
    assert (pacer.remaining, pacer.reset_epoch_s) == (2990, clock.now + 3)
    pacer.observe(_headers(remaining=5, reset=clock.now - 1))  # a window over: late, nothing to learn
    assert (pacer.remaining, pacer.reset_epoch_s) == (2990, clock.now + 3)


def test_a_probe_answer_ends_a_pause_or_replaces_it() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, jitter_s=0.0)
    pacer.observe(_headers(remaining=0, reset=clock.now + 3600))
    assert pacer.blocked_for_s() == 3600
    pacer.resume(_headers(remaining=2999, reset=clock.now + 2))
    assert (pacer.blocked_for_s(), pacer.remaining) == (0.0, 2999)
    pacer.pause_for_429(_headers(remaining=0, reset=clock.now + 2, retry_after=3600))
    assert pacer.blocked_for_s() == 3600
    pacer.pause_for_429(_headers(remaining=0, reset=clock.now + 2, retry_after=5), replace=True)
    assert pacer.blocked_for_s() == 5


async def test_after_a_429_pause_one_request_goes_first_and_the_rest_wait_for_its_answer() -> None:
    pacer = Pacer(jitter_s=0.0)
    pacer.observe(RateLimitHeaders(None, None, None, None))  # an answer without usable headers
    pacer.pause_for_429(RateLimitHeaders(None, None, None, retry_after_s=0.0))  # paused for the 1 s floor
    first, second = asyncio.create_task(pacer.acquire()), asyncio.create_task(pacer.acquire())
    await asyncio.wait_for(first, 3)
    await asyncio.sleep(0.2)
    assert (second.done(), pacer.in_flight) == (False, 1)
    pacer.done()
    pacer.observe(RateLimitHeaders(3000, 2999, None, None))  # the first was taken: the rest may go
    await asyncio.wait_for(second, 1)
    assert pacer.in_flight == 1
