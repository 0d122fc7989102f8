from __future__ import annotations

from worker.breaker import Breaker, BreakerState, full_jitter_s


def test_repeated_failures_open_the_breaker_and_the_first_success_closes_it() -> None:
    breaker = Breaker(failure_threshold=3)
    assert [breaker.failure() for _ in range(3)] == [False, False, True]
    assert breaker.state is BreakerState.OPEN
    breaker.begin_probe()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    breaker.begin_probe()
    breaker.success()
    assert breaker.is_closed
    assert breaker.consecutive_failures == 0


def test_a_success_between_failures_resets_the_count() -> None:
    breaker = Breaker(failure_threshold=3)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.is_closed


def test_a_configuration_fault_opens_at_once_and_remembers_the_status() -> None:
    breaker = Breaker(failure_threshold=5)
    assert breaker.fault(401) is True
    assert breaker.state is BreakerState.OPEN
    assert breaker.config_fault == 401
    breaker.success()
    assert breaker.config_fault is None


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    delays = [full_jitter_s(attempt, 0.5, 30.0) for attempt in range(12) for _ in range(20)]
    assert all(0 <= d <= 30.0 for d in delays)
    assert max(full_jitter_s(1, 0.5, 30.0) for _ in range(200)) <= 1.0
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not fixed steps


async def test_waiting_at_an_open_breaker_ends_when_it_closes() -> None:
    breaker = Breaker(failure_threshold=1)
    breaker.failure()
    assert await breaker.wait_closed(0.05) is False
    breaker.success()
    assert await breaker.wait_closed(0.05) is True
