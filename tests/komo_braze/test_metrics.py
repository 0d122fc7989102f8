"""The shared metrics pieces: build info and process metrics on every registry, README's reference."""

from __future__ import annotations

import platform
from pathlib import Path

from prometheus_client import Counter, generate_latest

from komo_braze import __version__
from komo_braze.metrics import metrics_markdown, metrics_table, process_registry, ready_gauge
from komo_braze.metrics_cli import reference_registries


def test_a_process_registry_carries_build_info_and_process_metrics() -> None:
    registry = process_registry("worker")
    labels = {"component": "worker", "version": __version__, "python": platform.python_version()}
    assert registry.get_sample_value("komo_braze_build_info", labels) == 1
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0) > 0


def test_the_ready_gauge_reads_the_check_at_each_scrape() -> None:
    registry, ready = process_registry("producer"), [False]
    ready_gauge(registry, "producer", lambda: ready[0])
    assert registry.get_sample_value("komo_braze_producer_ready") == 0
    ready[0] = True
    assert registry.get_sample_value("komo_braze_producer_ready") == 1


def test_the_table_names_each_family_once_with_its_labels_and_suffix() -> None:
    registry = process_registry("producer")
    Counter("komo_braze_producer_things", "things done", ["status"], registry=registry).labels("202")
    other = process_registry("worker")
    assert metrics_table({"producer": registry, "worker": other}) == [
        ("every", "komo_braze_build_info", "info", "component, python, version", _BUILD_HELP),
        ("producer", "komo_braze_producer_things_total", "counter", "status", "things done"),
    ]
    assert b"process_cpu_seconds_total" in generate_latest(registry)  # in the exposition, not in the table


_BUILD_HELP = "the komo-braze version and Python of this process (always 1)"


def test_readme_carries_the_metrics_reference_of_the_code() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert metrics_markdown(reference_registries()) in readme, (
        "README's metrics table is stale: `komo-braze metrics --markdown`"
    )


def test_every_family_of_every_process_has_its_label_names_in_the_reference() -> None:
    rows = {name: labels for _, name, _, labels, _ in metrics_table(reference_registries())}
    assert rows["komo_braze_worker_requests_total"] == "status, workspace"
    assert rows["komo_braze_worker_messages_dead_lettered_total"] == "kind, workspace"
    assert rows["komo_braze_worker_rate_limit_remaining"] == "workspace"
    assert rows["komo_braze_dlq_replayed_total"] == "kind"
    assert rows["komo_braze_producer_requests_total"] == "status"
