from __future__ import annotations

import pytest

from producer.replay import TIMESTAMP_HEADER, ReplayGuard, ReplayRefused

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def stamped(seconds: float) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(int(seconds))}


def refusal(guard: ReplayGuard, headers: dict[str, str], signature: str = "sha256=aa") -> str:
    with pytest.raises(ReplayRefused) as raised:
        guard.claim(headers, signature)
    return raised.value.reason


def test_a_timestamp_inside_the_tolerance_either_way_is_accepted_once() -> None:
    guard = ReplayGuard(300.0, clock=Clock())
    assert guard.claim(stamped(NOW - 300), "sha256=AA") == "sha256=aa"
    assert guard.claim(stamped(NOW + 300), "sha256=bb") == "sha256=bb"
    assert refusal(guard, stamped(NOW - 300), "sha256=aa ") == "this signed request was already received (a replay)"


@pytest.mark.parametrize(("offset_s", "shown"), [(-301, "301 s"), (301, "301 s"), (-86_400 * 365, "31536000 s")])
def test_a_timestamp_outside_the_tolerance_is_refused_with_the_distance(offset_s: int, shown: str) -> None:
    reason = refusal(ReplayGuard(300.0, clock=Clock()), stamped(NOW + offset_s))
    assert reason == f"{TIMESTAMP_HEADER} is {shown} from this server's clock; the tolerance is 300 s"


@pytest.mark.parametrize("text", ["", "soon", "1.8e9", "-5", "1800000000.5", "١٨٠٠٠٠٠٠٠٠", "9" * 13])
def test_a_timestamp_that_is_not_whole_unix_seconds_is_refused(text: str) -> None:
    assert refusal(ReplayGuard(300.0, clock=Clock()), {TIMESTAMP_HEADER: text}).endswith("must be whole Unix seconds")


def test_without_a_timestamp_nothing_is_remembered_unless_timestamps_are_required() -> None:
    lenient = ReplayGuard(300.0, clock=Clock())
    assert lenient.claim({}, "sha256=aa") is None
    assert lenient.claim({}, "sha256=aa") is None
    assert len(lenient) == 0
    strict = ReplayGuard(300.0, require_timestamp=True, clock=Clock())
    assert refusal(strict, {}) == f"signed requests must carry {TIMESTAMP_HEADER}"


def test_a_released_signature_may_come_again() -> None:
    guard = ReplayGuard(300.0, clock=Clock())
    key = guard.claim(stamped(NOW), "sha256=aa")
    guard.release(key)
    assert guard.claim(stamped(NOW), "sha256=aa") == "sha256=aa"
    assert "replay" in refusal(guard, stamped(NOW))


def test_a_signature_is_forgotten_once_its_timestamp_leaves_the_window() -> None:
    clock = Clock()
    guard = ReplayGuard(300.0, clock=clock)
    guard.claim(stamped(NOW - 200), "sha256=old")
    guard.claim(stamped(NOW), "sha256=new")
    clock.now = NOW + 101  # the old one's timestamp is now 301 s away: it could not pass anyway
    guard.claim(stamped(clock.now), "sha256=newer")
    assert len(guard) == 2
    assert "301 s" in refusal(guard, stamped(NOW - 200), "sha256=old")


def test_memory_stays_bounded_whatever_the_rate_and_releases() -> None:
    guard = ReplayGuard(300.0, clock=Clock(), max_remembered=100)
    for n in range(10_001):
        key = guard.claim(stamped(NOW - 300 + n / 20), f"sha256={n:x}")
        if n % 3 == 0:
            guard.release(key)
    assert len(guard) == 100
    assert len(guard._expiries) <= 200  # the heap of expiries: the other half of the memory
    assert "replay" in refusal(guard, stamped(NOW), f"sha256={9_998:x}")  # the newest are kept
