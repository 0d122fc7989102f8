"""Every metric of the worker, in one place (served on ``KOMO_BRAZE_WORKER_METRICS_BIND``).

Labels are bounded: ``workspace`` comes from the mapping file, ``reason`` from :class:`ErrorKind`,
``status`` is an HTTP status code or ``timeout`` / ``connection_error``, ``attribute`` is a Braze
attribute name the mapping file declares. No user, submission or hub ids, ever.

Each :class:`WorkerMetrics` has its own registry, so several workers in one test process do not mix.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "komo_braze_worker"

OBJECT_BUCKETS = (1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 75, 150, 225)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter(
            "messages_consumed", "messages taken from a work queue", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.acked = Counter(
            "messages_acked",
            "messages acked (accepted by Braze, or dead-lettered)",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        # named without the worker's namespace: `komo_braze_duplicates_total` is the name operators alert on
        self.duplicates = Counter(
            "duplicates",
            "copies of submissions Braze already accepted, acked without a second send, by cause: "
            "`accepted` (recorded as accepted, by any worker), `same_batch` (a copy in the same batch)",
            ["workspace", "cause"],
            namespace="komo_braze",
            registry=r,
        )
        self.state_store_up = Gauge(
            "state_store_up",
            "1: the shared state store answers; 0: per-process mode (none configured, or it is down)",
            namespace=NAMESPACE,
            registry=r,
        )
        self.attributes_held_back = Counter(
            "attributes_held_back",
            "attribute values not sent, by reason: `older` (a newer value was accepted), `unchanged` "
            "(`skip_unchanged`: equal to what was last accepted)",
            ["workspace", "reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.attribute_values_sent = Counter(
            "attribute_values_sent",
            "attribute values (Braze data points) in attribute objects Braze accepted",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.claims_waited = Counter(
            "user_claims_waited",
            "submissions that waited because another worker held their user",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.dead_lettered = Counter(
            "messages_dead_lettered",
            "messages dead-lettered by the worker",
            ["workspace", "reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.returned = Counter(
            "messages_returned",
            "held messages handed back to the broker unacked (hold limit, shutdown)",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.held = Gauge(
            "messages_held", "messages consumed and not yet acked", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.batch_objects = Histogram(
            "request_objects",
            "objects per /users/track request",
            ["workspace"],
            buckets=OBJECT_BUCKETS,
            namespace=NAMESPACE,
            registry=r,
        )
        self.requests = Counter(
            "requests", "/users/track requests by answer", ["workspace", "status"], namespace=NAMESPACE, registry=r
        )
        self.request_duration = Histogram(
            "request_duration_seconds", "/users/track request duration", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.retries = Counter(
            "retries", "requests resent after a failure", ["workspace", "reason"], namespace=NAMESPACE, registry=r
        )
        self.splits = Counter(
            "batch_splits", "batches split after a 400 or 413", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.pauses = Counter("rate_limit_pauses", "pauses after a 429", ["workspace"], namespace=NAMESPACE, registry=r)
        self.paused_seconds = Counter(
            "rate_limit_paused_seconds", "seconds paused after 429s", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.rate_limit_remaining = Gauge(
            "rate_limit_remaining",
            "X-RateLimit-Remaining of the latest answer",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.breaker_state = Gauge(
            "breaker_state", "0 closed, 1 half-open, 2 open", ["workspace"], namespace=NAMESPACE, registry=r
        )
        self.config_faults = Counter(
            "config_faults",
            "answers 401/403/404: key or endpoint wrong",
            ["workspace", "status"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.coalesced = Counter(
            "coalesced_updates",
            "submissions merged into another submission's attribute object",
            ["workspace"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.rejected_fields = Counter(
            "rejected_fields",
            "mapped fields dropped because the value did not fit the type",
            ["attribute"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.latency = Histogram(
            "end_to_end_latency_seconds",
            "from the producer's received_at to Braze's acceptance",
            ["workspace"],
            buckets=LATENCY_BUCKETS,
            namespace=NAMESPACE,
            registry=r,
        )
        self.consumer_restarts = Counter(
            "consumer_restarts", "work-queue consumers re-established", ["workspace"], namespace=NAMESPACE, registry=r
        )

    def value(self, name: str, **labels: str) -> float:
        """The current value of a sample (tests and the demo read metrics through this)."""
        full = name if name.startswith("komo_braze_") else f"{NAMESPACE}_{name}"
        found = self.registry.get_sample_value(full, labels)
        return found or 0.0
