"""``komo-braze metrics``: the metrics reference, read from the processes' own metric objects.

Part of the command line, so it may import ``producer`` and ``worker`` (docs/architecture.md, "Packages"). The
series are made for one example workspace (``default``) and one attribute (``email``), which only
shows the label names: a running worker has them for every workspace of its mapping.
"""

from __future__ import annotations

import click
from prometheus_client import CollectorRegistry

from komo_braze.metrics import metrics_markdown, metrics_table


def reference_registries() -> dict[str, CollectorRegistry]:
    """One registry per kind of process, every family with at least one series."""
    from producer.metrics import ProducerMetrics
    from worker.dlq.metrics import DlqMetrics
    from worker.metrics import WorkerMetrics

    producer = ProducerMetrics()
    producer.watch_ready(lambda: True)
    worker = WorkerMetrics()
    worker.initialise(["default"], attributes=["email"])
    worker.watch_ready(lambda: True)
    # series that appear with Braze's first answer (its rate-limit headers)
    worker.rate_limit_remaining.labels("default")
    worker.rate_limit_limit.labels("default")
    # series of the limit shared in Redis (KOMO_BRAZE_STATE_URL)
    worker.shared_limit.labels("default")
    worker.shared_limit_fallbacks.labels("default")
    return {"producer": producer.registry, "worker": worker.registry, "dlq": DlqMetrics().registry}


@click.command("metrics")
@click.option("--markdown", is_flag=True, help="print the markdown table README carries")
def metrics_command(markdown: bool) -> None:
    """List every komo_braze_* metric of the producer, the worker and the dlq commands."""
    registries = reference_registries()
    if markdown:
        click.echo(metrics_markdown(registries), nl=False)
        return
    for component, name, kind, labels, meaning in metrics_table(registries):
        click.echo(f"{component:<9} {name:<52} {kind:<10} {labels:<18} {meaning}")
