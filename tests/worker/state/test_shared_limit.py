"""Four worker processes against one workspace whose limit is the bottleneck, sharing the limit in Redis:
together they use at least 95% of it, and at most 0.5% of their requests are answered 429."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_limit import measure

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def test_four_processes_sharing_the_limit_use_95_percent_of_it_with_almost_no_429s(
    amqp_url: str, redis_url: str, tmp_path: Path
) -> None:
    run = await measure(
        amqp_url, processes=4, state_url=redis_url, log_dir=tmp_path, rate="150/3s", windows=4, count=4000
    )
    assert run.submissions < 4000  # a backlog to the end: the limit was the bottleneck all along
    assert run.used_share >= 0.95, run.line()
    assert run.refused_share <= 0.005, run.line()
