"""The Grafana dashboard: the panels README lists, on metric names the processes really serve."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from komo_braze.metrics_cli import reference_registries
from tests.monitoring.test_alerts import alert_rules
from tests.prometheus import DASHBOARD, REPO

METRIC_NAME = re.compile(r"\b(komo_braze_[a-z_]+|rabbitmq_[a-z_]+)\b")
#: what RabbitMQ's plugin serves on /metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count
RABBITMQ_QUEUE_METRICS = {
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_detailed_queue_consumers",
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def panel_queries() -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every query of the dashboard."""
    return [(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]


def served_names() -> set[str]:
    """Every sample name the producer, the worker and the dlq commands expose."""
    names: set[str] = set()
    for registry in reference_registries().values():
        for family in text_string_to_metric_families(generate_latest(registry).decode()):
            names.update(sample.name for sample in family.samples)
    return names | RABBITMQ_QUEUE_METRICS


def test_every_metric_a_panel_or_an_alert_reads_is_one_a_process_serves() -> None:
    served = served_names()
    expressions = [expr for _, expr in panel_queries()] + [rule["expr"] for rule in alert_rules()]
    used = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    assert used - served == set()
    assert len(used) >= 20


def test_the_dashboard_covers_what_an_operator_watches() -> None:
    used = {name for _, expr in panel_queries() for name in METRIC_NAME.findall(expr)}
    assert {
        "komo_braze_producer_requests_total",  # intake rate and statuses
        "rabbitmq_detailed_queue_messages_ready",  # queue depth
        "rabbitmq_detailed_queue_consumers",  # consumers
        "komo_braze_worker_request_objects_sum",  # objects per request
        "komo_braze_worker_requests_total",  # Braze statuses
        "komo_braze_worker_rate_limit_paused_seconds_total",  # 429 pauses
        "komo_braze_worker_rate_limit_remaining",  # headroom per workspace
        "komo_braze_worker_end_to_end_latency_seconds_bucket",  # end-to-end latency
        "komo_braze_worker_messages_dead_lettered_total",  # dead letters by kind
        "komo_braze_worker_breaker_state",  # breaker state
    } <= used


def test_every_panel_reads_the_chosen_prometheus_and_has_a_unique_id_and_query_ids() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)) >= 1, panel["title"]
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["prefix"]["query"] == "komo"


def test_readme_lists_every_panel_of_the_dashboard() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Dashboard") :]
    assert [panel["title"] for panel in panels() if panel["title"] not in section] == []
