"""A real Prometheus scrapes a producer, a worker and the broker while a small load runs through them.

The load: good submissions, a few that the worker must dead-letter (no identifier, a hub the mapping
does not know), a few the intake refuses (400), a window in which Braze refuses the key (401), a
second intake whose broker is gone (503), and at the end the worker stopped while submissions keep
arriving. The worker is configured with a state store that never answers, so it delivers in per-process
mode. Prometheus's HTTP API must then say what the test did, every panel query of the dashboard and every
alert expression must return data, and the alerts must go pending or firing when their cause is there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from braze_sim.testing import RunningSim, running_sim
from devtools.components import Component, component_env, start_component
from producer.app import Producer
from tests.broker import BrokerKit
from tests.monitoring.test_alerts import alert_rules
from tests.monitoring.test_dashboard import panel_queries
from tests.own_broker import free_port
from tests.prometheus import ALERTS, RunningPrometheus, ScrapeJob, running_prometheus
from tests.waiting import eventually
from tests.worker.harness import body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

TOKEN = "scrape-test-token"
MAPPING = """\
hubs:
  hub-1:
    identify: {by: external_id, field: customer_id}
    attributes:
      favourite_team: favourite_team
    event:
      name: komo_form_submitted
      properties: [site_id, submission_id]
"""
QUEUE_FAMILIES = ["queue_coarse_metrics", "queue_consumer_count"]
#: an alert expression with its thresholds as ``bool`` comparisons returns a series whenever the metrics
#: it reads exist, whether or not the alert would fire: a misspelt metric name returns nothing
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(?=-?\d)")


def with_bool_comparisons(expr: str) -> str:
    return _COMPARISON.sub(r"\1 bool ", " ".join(expr.split())).replace(" and ", " * ")


def as_query(expr: str, prefix: str) -> str:
    """A dashboard query as Grafana would send it for this test's prefix."""
    return expr.replace("$__rate_interval", "1m").replace("$prefix", prefix)


async def post(session: aiohttp.ClientSession, url: str, payload: dict[str, Any] | bytes) -> int:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with session.post(f"{url}/v1/submissions", data=data, headers=headers) as response:
        return response.status


async def alert_states(prom: RunningPrometheus, name: str, **labels: str) -> set[str]:
    return {
        alert["state"]
        for alert in await prom.alerts()
        if alert["labels"]["alertname"] == name and all(alert["labels"].get(k) == v for k, v in labels.items())
    }


@asynccontextmanager
async def pipeline(
    broker: BrokerKit, sim: RunningSim, tmp_path: Path, metrics_ports: dict[str, int]
) -> AsyncIterator[tuple[Component, Component]]:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    common = {"amqp_url": broker.amqp_url, "prefix": broker.prefix}
    # as deployed (compose, Kubernetes): /metrics on the admin bind, off the intake port
    producer_env = component_env(
        **common,
        producer_bind="127.0.0.1:0",
        producer_admin_bind=f"127.0.0.1:{metrics_ports['producer']}",
        webhook_token=TOKEN,
    )
    worker_env = component_env(
        **common,
        braze_url=sim.url,
        braze_api_key="test-key",
        mapping=str(mapping),
        worker_metrics_bind=f"127.0.0.1:{metrics_ports['worker']}",
        batch_linger_ms="50",
        braze_retry_base_s="0.2",
        braze_retry_max_s="1",
        state_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there: a store that is down
    )
    producer = await start_component("producer", ["producer"], producer_env, tmp_path)
    try:
        worker = await start_component("worker", ["worker"], worker_env, tmp_path)
        try:
            yield producer, worker
        finally:
            await worker.stop()
    finally:
        await producer.stop()


@asynccontextmanager
async def intake_without_broker(broker: BrokerKit, admin_port: int) -> AsyncIterator[Producer]:
    """An intake whose broker is gone: it answers 503 and is not ready."""
    settings = broker.settings(
        amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/", webhook_token=TOKEN, producer_admin_bind="127.0.0.1:0"
    )
    producer = Producer(settings)
    await producer.start(port=0, admin_port=admin_port)
    try:
        yield producer
    finally:
        await producer.stop()


async def test_prometheus_sees_what_the_pipeline_did_and_every_panel_and_alert_has_data(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await broker.declare()
    rabbitmq = f"{urlsplit(broker.amqp_url).hostname or 'localhost'}:15692"
    # the metrics ports are chosen first so that Prometheus starts with the processes, not after them:
    # it scrapes a new target only after its discovery's first round, some 5 s
    ports = {"producer": free_port(), "worker": free_port(), "producer_without_broker": free_port()}
    jobs = [
        *(ScrapeJob(name, f"127.0.0.1:{port}") for name, port in ports.items()),
        ScrapeJob("rabbitmq", rabbitmq, "/metrics/detailed", {"family": QUEUE_FAMILIES}),
    ]
    async with (
        running_prometheus(tmp_path, jobs, interval_s=1.0, rule_files=[ALERTS]) as prom,
        running_sim() as sim,
        pipeline(broker, sim, tmp_path, ports) as (producer, worker),
        intake_without_broker(broker, ports["producer_without_broker"]) as refusing,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        await eventually(lambda: _all_up(prom, len(jobs)), what="every target scraped")

        # 1. good submissions, two the worker dead-letters as no_identifier, one as unmapped_hub,
        #    two the intake refuses
        good = [body(f"user-{n}", favourite_team="Swans") for n in range(30)]
        no_identifier = [body(None, favourite_team="Swans") for _ in range(2)]
        unmapped = [body("user-x", hub="hub-unknown")]
        statuses = [await post(session, producer.url, b) for b in good + no_identifier + unmapped]
        statuses += [await post(session, producer.url, b"[1, 2]"), await post(session, producer.url, b"{")]
        assert statuses == [202] * 33 + [400, 400]
        await eventually(lambda: _equals(prom, "sum(komo_braze_worker_messages_acked_total)", 33), what="33 settled")
        # delivered in per-process mode, with its store down: the alert is pending (it fires after 2 minutes)
        await eventually(
            lambda: _state_in(prom, "KomoBrazeStateStoreDown", {"pending"}, job="worker"),
            what="the state-store alert pending",
        )

        # 2. Braze refuses the key for a while: the breaker opens, its alert goes pending
        await sim.client.set_faults(unauthorized_for_s=10)
        revoked_batch = [body(f"late-{n}") for n in range(10)]
        assert [await post(session, producer.url, b) for b in revoked_batch] == [202] * 10
        await eventually(
            lambda: _state_in(prom, "KomoBrazeBreakerOpen", {"pending", "firing"}, workspace="default"),
            what="the breaker alert during the revoked-key window",
        )
        key_refused = await alert_states(prom, "KomoBrazeKeyRefused", workspace="default", status="401")
        assert (await sim.client.faults())["remaining_s"]["unauthorized"] > 0  # still inside the window
        await sim.client.set_faults(unauthorized_for_s=0)  # the key works again: the breaker's next probe closes it
        await eventually(lambda: _equals(prom, "sum(komo_braze_worker_messages_acked_total)", 43), what="43 settled")

        # 3. the intake without a broker answers 503
        assert [await post(session, refusing_url(refusing), b) for b in good[:3]] == [503] * 3
        await eventually(lambda: _state_in(prom, "KomoBrazeIntakeRefusing", {"firing"}), what="the 503 alert")

        # what Prometheus says equals what the test did
        answered_401 = (await sim.client.stats())["by_status"].get("401", 0)
        await eventually(lambda: _equals(prom, _CONFIG_FAULTS, answered_401), what="config faults scraped")
        figures = {
            "accepted": await prom.value('sum(komo_braze_producer_requests_total{job="producer",status="202"})'),
            "refused_400": await prom.value('sum(komo_braze_producer_requests_total{status="400"})'),
            "refused_503": await prom.value('sum(komo_braze_producer_requests_total{status="503"})'),
            "acked": await prom.value("sum(komo_braze_worker_messages_acked_total)"),
            "config_faults_401": await prom.value(_CONFIG_FAULTS),
            "config_faults_increase": await prom.value(f"sum(increase({_CONFIG_FAULTS_SERIES}[10m]))"),
        }
        dead = {
            r["metric"]["kind"]: float(r["value"][1])
            for r in await prom.query("sum by (kind) (komo_braze_worker_messages_dead_lettered_total)")
        }
        assert figures["accepted"] == 43
        assert (figures["refused_400"], figures["refused_503"]) == (2, 3)
        assert figures["acked"] == 43
        assert figures["config_faults_401"] == answered_401 >= 1
        assert (figures["config_faults_increase"] or 0) >= answered_401  # never under-counted
        assert dead == {
            "no_identifier": 2,
            "unmapped_hub": 1,
            "invalid_identifier": 0,
            "invalid_submission": 0,
            "braze_rejected": 0,
        }
        assert key_refused == {"firing"}  # no `for`: it fires with the first refused answer

        # every panel query and every alert expression returns data
        empty_panels = [
            (title, expr) for title, expr in panel_queries() if not await prom.query(as_query(expr, broker.prefix))
        ]
        assert empty_panels == []
        empty_alerts = [
            rule["alert"] for rule in alert_rules() if not await prom.query(with_bool_comparisons(rule["expr"]))
        ]
        assert empty_alerts == []

        # 4. the worker stops while submissions keep coming: no consumer, a growing queue, a target down
        await worker.stop()
        assert [await post(session, producer.url, b) for b in good[:5]] == [202] * 5
        queue = broker.names.work_queue()
        await eventually(
            lambda: _state_in(prom, "KomoBrazeWorkQueueWithoutConsumer", {"pending", "firing"}, queue=queue),
            what="the no-consumer alert",
            timeout_s=40,
        )
        # the two alerts come from different scrapes (the broker's, the worker's failed one): either may
        # be evaluated first. Pending, never firing here: it waits 2 minutes.
        await eventually(
            lambda: _state_in(prom, "KomoBrazeTargetDown", {"pending", "firing"}, job="worker"),
            what="the target-down alert",
            timeout_s=40,
        )
        assert await alert_states(prom, "KomoBrazeTargetDown", job="worker") == {"pending"}


_CONFIG_FAULTS_SERIES = 'komo_braze_worker_config_faults_total{status="401"}'
_CONFIG_FAULTS = f"sum({_CONFIG_FAULTS_SERIES})"


def refusing_url(producer: Producer) -> str:
    return f"http://127.0.0.1:{producer.port}"


async def _all_up(prom: RunningPrometheus, count: int) -> bool:
    health = await prom.targets_up()
    return len(health) == count and set(health.values()) == {"up"}


async def _equals(prom: RunningPrometheus, expr: str, expected: float) -> bool:
    return await prom.value(expr) == expected


async def _state_in(prom: RunningPrometheus, name: str, states: set[str], **labels: str) -> bool:
    return bool(await alert_states(prom, name, **labels) & states)
