from __future__ import annotations

import pytest

from worker.log_throttle import LogThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_logs_once_a_window_and_then_says_how_many_it_left_out() -> None:
    clock = Clock()
    throttle = LogThrottle(60.0, clock=clock)
    assert throttle.admit("a") == 0
    verdicts = []
    for _ in range(5):
        clock.now += 10.0
        verdicts.append(throttle.admit("a"))
    assert verdicts == [None, None, None, None, None]  # 10 s to 50 s after the first
    clock.now += 9.999
    assert throttle.admit("a") is None
    clock.now += 0.001  # exactly 60 s after the first line
    assert throttle.admit("a") == 6
    assert throttle.admit("a") is None


def test_keys_are_throttled_apart() -> None:
    clock = Clock()
    throttle = LogThrottle(60.0, clock=clock)
    assert [throttle.admit(key) for key in ("a", "b", "a", ("hub", "f", "r"), "b")] == [0, 0, None, 0, None]


def test_memory_stays_bounded_and_the_key_logged_longest_ago_goes_first() -> None:
    clock = Clock()
    throttle = LogThrottle(60.0, clock=clock, max_keys=3)
    for n in range(1000):
        clock.now += 0.01
        assert throttle.admit(f"hub-{n}") == 0
    assert len(throttle) == 3
    assert throttle.admit("hub-999") is None  # still remembered
    assert throttle.admit("hub-0") == 0  # forgotten: logs again within the window


@pytest.mark.parametrize(("window_s", "max_keys"), [(0.0, 10), (-1.0, 10), (60.0, 0)])
def test_a_window_or_size_that_cannot_work_is_refused(window_s: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match="window_s must be positive"):
        LogThrottle(window_s, max_keys=max_keys)
