from __future__ import annotations

import asyncio
import time

import pytest

from komo_braze.publish_errors import BrokerUnavailable
from worker.dlq.pipeline import Pipeline, ReplayRate


async def test_a_pipeline_never_runs_more_jobs_than_its_window() -> None:
    pipeline = Pipeline(max_in_flight=3)
    running, peak = 0, 0

    async def job() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    for _ in range(12):
        await pipeline.submit(job, lambda _reason: None)
    assert await pipeline.drain(timeout_s=5)
    assert peak == 3
    assert pipeline.failure is None


async def test_a_failed_job_is_reported_and_remembered() -> None:
    pipeline = Pipeline(max_in_flight=2)
    reasons: list[str] = []

    async def unconfirmed() -> None:
        raise BrokerUnavailable("broker connection lost")

    async def fine() -> None:
        await asyncio.sleep(0)

    await pipeline.submit(fine, reasons.append)
    await pipeline.submit(unconfirmed, reasons.append)
    assert await pipeline.drain(timeout_s=5)
    assert reasons == ["broker connection lost"]
    assert pipeline.failure == "broker connection lost"


async def test_drain_cancels_what_outlives_its_timeout() -> None:
    pipeline = Pipeline(max_in_flight=1)
    reasons: list[str] = []

    async def stuck() -> None:
        await asyncio.sleep(60)

    await pipeline.submit(stuck, reasons.append)
    assert not await pipeline.drain(timeout_s=0.05)
    assert reasons == ["cancelled"]


async def test_a_pacer_spaces_starts_evenly() -> None:
    pacer = ReplayRate(rate_per_s=100)
    started = time.monotonic()
    for _ in range(11):
        await pacer.wait()
    assert time.monotonic() - started == pytest.approx(0.1, abs=0.05)


async def test_a_pacer_without_a_rate_never_waits() -> None:
    pacer = ReplayRate(None)
    started = time.monotonic()
    for _ in range(10_000):
        await pacer.wait()
    assert time.monotonic() - started < 0.5


def test_a_window_must_hold_at_least_one_job() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Pipeline(max_in_flight=0)
