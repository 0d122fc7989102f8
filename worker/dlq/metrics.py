"""Every metric of the dead-letter tooling, in one place.

``replay`` and ``purge`` are short-lived commands, so a scrape can miss them: ``--metrics-bind`` serves
these on ``/metrics`` for as long as the command runs (and ``--metrics-linger-s`` keeps serving after it
finished, so the last scrape sees the final counts); the summary and the ``dlq_*_finished`` log line
carry the same numbers. Each command owns a :class:`DlqMetrics` with its own registry. Labels are
bounded: the error kind is one of :class:`ErrorKind` or ``other``, never an id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from komo_braze.deadletter import ErrorKind
from komo_braze.metrics import process_registry

NAMESPACE = "komo_braze_dlq"

KINDS = frozenset(kind.value for kind in ErrorKind)


def kind_label(kind: str) -> str:
    """The error kind as a bounded label value."""
    return kind if kind in KINDS else "other"


class DlqMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else process_registry("dlq")
        self.replayed = Counter(
            "replayed",
            "Dead letters replayed onto the work routing (publish confirmed, dead copy acked), by error kind",
            ["kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.purged = Counter(
            "purged",
            "Dead letters removed for good by `dlq purge`, by error kind",
            ["kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.imported = Counter(
            "imported",
            "Exported dead letters put back by `dlq import`, by target (work or dlq)",
            ["target"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.failures = Counter(
            "publish_failures",
            "Replayed or imported messages the broker did not confirm (the dead copy stays)",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.scanned = Counter(
            "scanned",
            "Dead letters read by a dlq command (read letters that stay are handed back in order)",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "publishes_in_flight",
            "Replayed or imported messages waiting for the broker's confirm",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        for kind in (*sorted(KINDS), "other"):
            self.replayed.labels(kind=kind)
            self.purged.labels(kind=kind)
        for target in ("work", "dlq"):
            self.imported.labels(target=target)
