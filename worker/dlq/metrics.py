"""Every metric of the dead-letter tooling, in one place.

``replay`` and ``purge`` are short-lived commands, so a scrape can miss them: ``--metrics-bind`` serves
these on ``/metrics`` for as long as the command runs (and ``--metrics-linger-s`` keeps serving after it
finished, so the last scrape sees the final counts); the summary and the ``dlq_*_finished`` log line
carry the same numbers. Each command owns a :class:`DlqMetrics` with its own registry. Labels are
bounded: the error kind is one of :class:`ErrorKind` or ``other``, never an id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from worker.deadletter import ErrorKind

KINDS = frozenset(kind.value for kind in ErrorKind)


def kind_label(kind: str) -> str:
    """The error kind as a bounded label value."""
    return kind if kind in KINDS else "other"


class DlqMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.replayed = Counter(
            "komo_dlq_replayed",
            "Dead letters replayed onto the work routing (publish confirmed, dead copy acked), by error kind",
            ["kind"],
            registry=self.registry,
        )
        self.purged = Counter(
            "komo_dlq_purged",
            "Dead letters removed for good by `dlq purge`, by error kind",
            ["kind"],
            registry=self.registry,
        )
        self.imported = Counter(
            "komo_dlq_imported",
            "Exported dead letters put back by `dlq import`, by target (work or dlq)",
            ["target"],
            registry=self.registry,
        )
        self.failures = Counter(
            "komo_dlq_publish_failures",
            "Replayed or imported messages the broker did not confirm (the dead copy stays)",
            registry=self.registry,
        )
        self.scanned = Counter(
            "komo_dlq_scanned",
            "Dead letters read by a dlq command (read letters that stay are handed back in order)",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "komo_dlq_publishes_in_flight",
            "Replayed or imported messages waiting for the broker's confirm",
            registry=self.registry,
        )
        for kind in (*sorted(KINDS), "other"):
            self.replayed.labels(kind=kind)
            self.purged.labels(kind=kind)
        for target in ("work", "dlq"):
            self.imported.labels(target=target)
