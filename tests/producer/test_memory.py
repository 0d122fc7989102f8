from __future__ import annotations

from producer.memory import MIN_PEAK_CONNECTIONS, BurstTrimmer


class Trims:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> bool:
        self.count += 1
        return True


def test_the_heap_is_trimmed_once_a_burst_falls_to_a_quarter_of_its_peak() -> None:
    trims = Trims()
    trimmer = BurstTrimmer(enabled=True, trim=trims)
    for open_connections in [*range(1, 401), *range(400, 100, -1)]:  # up to 400, down to 101
        trimmer.observe(open_connections)
    assert trims.count == 0
    trimmer.observe(100)  # a quarter of the peak
    assert trims.count == 1
    for open_connections in range(99, 25, -1):
        trimmer.observe(open_connections)
    assert trims.count == 1
    trimmer.observe(25)  # a quarter of 100, itself a burst worth trimming after
    assert trims.count == 2
    for open_connections in range(24, -1, -1):
        trimmer.observe(open_connections)
    assert (trims.count, trimmer.trims) == (2, 2)


def test_a_few_connections_coming_and_going_never_trim() -> None:
    trims = Trims()
    trimmer = BurstTrimmer(enabled=True, trim=trims)
    for _ in range(100):
        for open_connections in (*range(MIN_PEAK_CONNECTIONS), *range(MIN_PEAK_CONNECTIONS - 1, -1, -1)):
            trimmer.observe(open_connections)
    assert trims.count == 0


def test_the_switch_turns_trimming_off() -> None:
    trims = Trims()
    trimmer = BurstTrimmer(enabled=False, trim=trims)
    for open_connections in (*range(500), *range(500, -1, -1)):
        trimmer.observe(open_connections)
    assert (trims.count, trimmer.trims) == (0, 0)
