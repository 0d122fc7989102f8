"""What every process's ``/metrics`` has in common, and the metrics reference README carries.

Every metric of the project is named ``komo_braze_<component>_…`` (``komo_braze_worker_…``,
``komo_braze_producer_…``, ``komo_braze_dlq_…``). :func:`process_registry` gives a component its own
registry with the standard ``process_*`` and ``python_*`` collectors and ``komo_braze_build_info``, so
that an operator can tell which version runs where and whether a process restarts or leaks.
:func:`metrics_markdown` renders the reference table from live registries, so README cannot drift from
the code (a test compares them).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Gauge, Info, PlatformCollector, ProcessCollector

from komo_braze import __version__

PREFIX = "komo_braze"
#: the labels Prometheus adds to histogram samples, not labels of the family
_SAMPLE_LABELS = frozenset({"le", "quantile"})
#: what the exposition appends to a family's name, by type
_SUFFIXES = {"counter": "_total", "info": "_info"}


def process_registry(component: str) -> CollectorRegistry:
    """A registry of its own for one component: ``process_*``, ``python_info`` and build info."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    Info(
        f"{PREFIX}_build",
        "the komo-braze version and Python of this process (always 1)",
        registry=registry,
    ).info({"component": component, "version": __version__, "python": platform.python_version()})
    return registry


def ready_gauge(registry: CollectorRegistry, component: str, ready: Callable[[], bool]) -> Gauge:
    """``komo_braze_<component>_ready``: 1 while ``/readyz`` answers ready, else 0 (read at each scrape)."""
    gauge = Gauge(f"{PREFIX}_{component}_ready", "1 while /readyz answers ready, else 0", registry=registry)
    gauge.set_function(lambda: 1.0 if ready() else 0.0)
    return gauge


def metrics_table(registries: Mapping[str, CollectorRegistry]) -> list[tuple[str, str, str, str, str]]:
    """``(component, name, type, labels, meaning)`` of every ``komo_braze_*`` family in ``registries``.

    Label names are read from the samples, so each labelled family must have at least one series
    (every family is pre-initialised for its known label values, which this relies on).
    """
    rows: dict[str, tuple[str, str, str, str, str]] = {}
    for component, registry in registries.items():
        for family in registry.collect():
            if not family.name.startswith(PREFIX + "_"):
                continue
            labels = sorted({name for sample in family.samples for name in sample.labels} - _SAMPLE_LABELS)
            shown = family.name + _SUFFIXES.get(family.type, "")
            owner = "every" if shown in rows else component  # build info: one row for all processes
            rows[shown] = (owner, shown, family.type, ", ".join(labels), family.documentation)
    return list(rows.values())


def metrics_markdown(registries: Mapping[str, CollectorRegistry]) -> str:
    """The metrics reference table README carries."""
    lines = ["| process | metric | type | labels | meaning |", "| --- | --- | --- | --- | --- |"]
    for component, name, kind, labels, meaning in metrics_table(registries):
        label_text = ", ".join(f"`{label}`" for label in labels.split(", ")) if labels else ""
        lines.append(f"| {component} | `{name}` | {kind} | {label_text} | {meaning} |")
    return "\n".join(lines) + "\n"
