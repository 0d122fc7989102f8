"""The worker's /metrics are fit to alert on: every series from the start, probes apart, lint-clean."""

from __future__ import annotations

import platform

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from braze_sim.testing import running_sim
from komo_braze import __version__
from komo_braze.settings import Settings
from tests.broker import BrokerKit
from tests.prometheus import check_metrics
from tests.waiting import eventually
from tests.worker.harness import RunningWorker, acked, body, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper, Spec
from worker.mapping import MappingConfig
from worker.metrics import DURATION_BUCKETS, KNOWN_STATUSES, WORKER_DEAD_LETTER_KINDS


async def _exposition(worker: RunningWorker) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{worker.port}/metrics") as response:
        return await response.text()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _at(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_every_series_of_every_workspace_exists_at_zero_before_the_first_message(broker: BrokerKit) -> None:
    broker.workspaces.add("client_b")
    mapper = SimpleMapper(hub_workspaces={"hub-b": "client_b"}, specs={"client_b": Spec("client_b")})
    await broker.declare(workspace_hubs=mapper.workspace_hubs())
    async with running_sim(api_keys=("a=key-a", "b=key-b")) as sim:
        mapper = SimpleMapper(
            hub_workspaces={"hub-b": "client_b"},
            specs={"client_b": Spec("client_b", url=sim.url, api_key_env="CLIENT_B_BRAZE_KEY")},
        )
        environ = {"CLIENT_B_BRAZE_KEY": "key-b"}
        async with running_worker(broker, mapper, braze_url=sim.url, api_key="key-a", environ=environ) as worker:
            await eventually(lambda: _ready(worker), what="the worker ready")
            samples = _samples(await _exposition(worker))
    w = "komo_braze_worker_"
    for workspace in ("default", "client_b"):
        for kind in WORKER_DEAD_LETTER_KINDS:
            assert _at(samples, w + "messages_dead_lettered_total", workspace=workspace, kind=kind) == 0
        for status in KNOWN_STATUSES:
            assert _at(samples, w + "requests_total", workspace=workspace, status=status) == 0
            assert _at(samples, w + "probes_total", workspace=workspace, status=status) == 0
        for status in ("401", "403", "404"):
            assert _at(samples, w + "config_faults_total", workspace=workspace, status=status) == 0
        assert _at(samples, w + "messages_consumed_total", workspace=workspace) == 0
        assert _at(samples, w + "rate_limit_pauses_total", workspace=workspace) == 0
        assert _at(samples, w + "breaker_state", workspace=workspace) == 0
        assert _at(samples, w + "end_to_end_latency_seconds_count", workspace=workspace) == 0
    assert _at(samples, w + "ready") == 1
    python = platform.python_version()
    assert _at(samples, "komo_braze_build_info", component="worker", version=__version__, python=python) == 1
    assert (_at(samples, "process_resident_memory_bytes") or 0) > 0


async def _ready(worker: RunningWorker) -> bool:
    return worker.value("ready") == 1


async def test_a_working_workers_exposition_passes_promtool_check_metrics(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim() as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker:
        await publish(broker, [body(f"user-{n}") for n in range(5)] + [body(None)])
        await eventually(acked(worker, 6), what="6 settled")
        text = await _exposition(worker)
    assert 'komo_braze_worker_messages_dead_lettered_total{kind="no_identifier",workspace="default"} 1.0' in text
    assert check_metrics(text) == ""


async def test_breaker_probes_are_counted_apart_from_the_requests_that_carry_objects(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim(unauthorized_for_s=1.5) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(10)])
        await eventually(acked(worker, 10), timeout_s=30, what="10 acks after the 401 window")
        answered_401 = len(await sim.client.requests(status=401))
        probes_answered_400 = len(await sim.client.requests(status=400))
    real_401 = worker.value("requests_total", workspace="default", status="401")
    probe_401 = worker.value("probes_total", workspace="default", status="401")
    assert real_401 >= 1  # the first batch met the revoked key
    assert real_401 + probe_401 == answered_401
    assert worker.value("config_faults_total", workspace="default", status="401") == answered_401
    # the probe that closed the breaker: Braze calls an object-less body a bad request
    assert worker.value("probes_total", workspace="default", status="400") == probes_answered_400 >= 1
    assert worker.value("requests_total", workspace="default", status="400") == 0
    assert (
        worker.value("request_objects_count", workspace="default")
        == worker.value("requests_total", workspace="default", status="201") + real_401
    )


MAPPING = """\
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes:
      email: {to: email, type: email}
      sms_optin: {type: subscription_group, group_id: "6f1c2a0e-0000-4000-8000-000000000001"}
    event: {name: komo_form_submitted, properties: [score]}
  hub-2:
    identify: {by: external_id, field: customer_id}
    attributes: {date_of_birth: {to: dob, type: date}}
"""


async def test_rejected_fields_exist_at_zero_for_every_attribute_the_mapping_names(broker: BrokerKit) -> None:
    await broker.declare()
    mapping = MappingConfig.from_text(MAPPING)
    async with running_sim() as sim, running_worker(broker, mapping, braze_url=sim.url) as worker:
        await publish(broker, [body("joe", email="not an email")])
        await eventually(acked(worker, 1), what="1 ack")
        samples = _samples(await _exposition(worker))
    rejected = {
        dict(labels)["attribute"]: value
        for (name, labels), value in samples.items()
        if name == "komo_braze_worker_rejected_fields_total"
    }
    assert rejected == {"email": 1, "dob": 0, "event.properties.score": 0, "subscription_groups": 0}


def test_request_duration_buckets_reach_past_the_client_timeout() -> None:
    timeout_s = Settings.model_fields["braze_timeout_s"].default
    assert timeout_s == 30.0
    assert max(DURATION_BUCKETS) > timeout_s  # a timed-out request lands in a finite bucket, not only +Inf
