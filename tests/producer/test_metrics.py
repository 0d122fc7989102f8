"""The producer's /metrics: every status and outcome from the start, process metrics, lint-clean."""

from __future__ import annotations

import orjson

from producer.metrics import OUTCOMES, STATUSES
from tests.komo_example import KOMO_BODY
from tests.producer.conftest import StartIntake
from tests.prometheus import check_metrics


async def test_every_status_and_outcome_is_exposed_at_zero_before_the_first_request(start_intake: StartIntake) -> None:
    async with start_intake() as intake:
        text = await intake.metrics_text()
    for status in STATUSES:
        assert f'komo_braze_producer_requests_total{{status="{status}"}} 0.0' in text
    for outcome in OUTCOMES:
        assert f'komo_braze_producer_publish_seconds_count{{outcome="{outcome}"}} 0.0' in text
    assert "komo_braze_producer_ready 1.0" in text
    assert 'komo_braze_build_info{component="producer"' in text
    assert "process_cpu_seconds_total " in text


async def test_a_working_producers_exposition_passes_promtool_check_metrics(start_intake: StartIntake) -> None:
    async with start_intake() as intake:
        async with intake.post(orjson.dumps(KOMO_BODY)) as accepted, intake.post(b"[1]") as refused:
            assert (accepted.status, refused.status) == (202, 400)
        text = await intake.metrics_text()
    assert 'komo_braze_producer_requests_total{status="202"} 1.0' in text
    assert 'komo_braze_producer_requests_total{status="400"} 1.0' in text
    assert check_metrics(text) == ""
