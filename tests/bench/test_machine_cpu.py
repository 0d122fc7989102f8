"""The machine's busy CPU, as the benchmarks read it: work done in this process shows in it."""

from __future__ import annotations

import os
import time

from bench.bench_worker import cpu_s, machine_cpu_s


def test_the_machines_busy_cpu_grows_by_at_least_what_this_process_spent() -> None:
    before, own_before = machine_cpu_s(), cpu_s(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # busy, not sleeping
        pass
    spent = cpu_s(os.getpid()) - own_before
    assert spent >= 0.25
    assert machine_cpu_s() - before >= spent - 0.05  # clock ticks: a few hundredths either way
