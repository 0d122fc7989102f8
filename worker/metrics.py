"""Every metric of the worker, in one place (served on ``KOMO_BRAZE_WORKER_METRICS_BIND``).

Labels are bounded: ``workspace`` comes from the mapping file, ``kind`` from :class:`ErrorKind`,
``reason`` is a retry reason, ``status`` is an HTTP status code or ``timeout`` / ``connection_error``,
``attribute`` is a Braze attribute name the mapping file declares, ``header`` one of the four rate-limit
headers. No user, submission or hub ids, ever.

Every labelled series exists from the start (:meth:`WorkerMetrics.initialise`, at 0), so that
``increase()`` and ``rate()`` see the first event of each: a counter that appears only on its first
increment hides that increment from Prometheus. Probes sent while a breaker is open are counted apart
(``probes_total``), so an alert on real requests' answers does not fire on every recovery.

Each :class:`WorkerMetrics` has its own registry, so several workers in one test process do not mix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from komo_braze.deadletter import ErrorKind
from komo_braze.metrics import process_registry, ready_gauge
from worker.ratelimit_headers import HEADER_NAMES

NAMESPACE = "komo_braze_worker"

OBJECT_BUCKETS = (1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 75, 150, 225)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)
#: request durations: past the client's 30 s default timeout, so a timed-out request lands in a bucket
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120)

#: the answers Braze documents for /users/track, and the two ways of getting none
KNOWN_STATUSES = (
    *("201", "400", "401", "403", "404", "413", "429", "500", "502", "503", "504"),
    *("timeout", "connection_error"),
)
CONFIG_FAULT_STATUSES = ("401", "403", "404")
#: why a copy was acked without a send (``komo_braze_duplicates_total``)
DUPLICATE_CAUSES = ("accepted", "same_batch")
#: why an attribute value was not sent (state store: a newer one accepted, or ``skip_unchanged``)
HELD_BACK_REASONS = ("older", "unchanged")
RETRY_REASONS = ("status_500", "status_502", "status_503", "status_504", "timeout", "connection_error")
#: what the worker itself dead-letters (``delivery_limit`` is the broker's doing, never the worker's)
WORKER_DEAD_LETTER_KINDS = tuple(kind.value for kind in ErrorKind if kind is not ErrorKind.DELIVERY_LIMIT)
BREAKER_STATES = "0 closed, 1 half-open, 2 open"


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or process_registry("worker")
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, ["workspace", *labels], namespace=NAMESPACE, registry=r)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, ["workspace"], namespace=NAMESPACE, registry=r)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, ["workspace"], buckets=buckets, namespace=NAMESPACE, registry=r)

        self.consumed = counter("messages_consumed", "messages taken from a work queue")
        self.acked = counter("messages_acked", "messages acked (accepted by Braze, or dead-lettered)")
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
        self.state_store_configured = Gauge(
            "state_store_configured",
            "1: KOMO_BRAZE_STATE_URL names a shared state store (state_store_up 0 then means it is down); "
            "0: in-process by choice",
            namespace=NAMESPACE,
            registry=r,
        )
        self.attributes_held_back = counter(
            "attributes_held_back",
            "attribute values not sent, by reason: `older` (a newer value was accepted), `unchanged` "
            "(`skip_unchanged`: equal to what was last accepted)",
            "reason",
        )
        self.attribute_values_sent = counter(
            "attribute_values_sent", "attribute values (Braze data points) in attribute objects Braze accepted"
        )
        self.claims_waited = counter(
            "user_claims_waited", "submissions that waited because another worker held their user"
        )
        self.dead_lettered = counter(
            "messages_dead_lettered", "messages dead-lettered by the worker, by error kind", "kind"
        )
        # one channel per worker carries every workspace's dead letters, hence no label
        self.dead_letter_channel_renewals = Counter(
            "dead_letter_channel_renewals",
            "fresh channels opened for dead letters after the broker nacked one (the nacked letter is "
            "published again on the fresh channel)",
            namespace=NAMESPACE,
            registry=r,
        )
        self.returned = counter(
            "messages_returned", "held messages handed back to the broker unacked (hold limit, shutdown)"
        )
        self.held = gauge("messages_held", "messages consumed and not yet acked")
        self.batch_objects = histogram("request_objects", "objects per /users/track request", OBJECT_BUCKETS)
        self.requests = counter("requests", "/users/track requests carrying objects, by answer", "status")
        self.probes = counter("probes", "probes (requests with no object) sent while the breaker is open", "status")
        self.request_duration = histogram(
            "request_duration_seconds", "/users/track request duration (probes excluded)", DURATION_BUCKETS
        )
        self.retries = counter("retries", "requests resent after a failure", "reason")
        self.splits = counter("batch_splits", "batches split after a 400 or 413")
        self.pauses = counter("rate_limit_pauses", "pauses after a 429")
        self.paused_seconds = counter("rate_limit_paused_seconds", "seconds paused after 429s")
        self.rate_limit_remaining = gauge("rate_limit_remaining", "X-RateLimit-Remaining of the latest answer")
        self.rate_limit_limit = gauge("rate_limit_limit", "X-RateLimit-Limit of the latest answer")
        self.rate_limit_header_unusable = counter(
            "rate_limit_header_unusable",
            "rate-limit header values ignored or clamped (not a number, NaN, negative, beyond the pause cap)",
            "header",
        )
        self.pause_probes = counter("pause_probes", "probes sent during a long pause to check whether it still holds")
        self.breaker_state = gauge("breaker_state", BREAKER_STATES)
        self.config_faults = counter(
            "config_faults", "answers 3xx/401/403/404 (probes included): key or endpoint wrong", "status"
        )
        self.coalesced = counter("coalesced_updates", "submissions merged into another submission's attribute object")
        self.rejected_fields = Counter(
            "rejected_fields",
            "mapped fields dropped because the value did not fit the type",
            ["attribute"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.latency = histogram(
            "end_to_end_latency_seconds", "from the producer's received_at to Braze's acceptance", LATENCY_BUCKETS
        )
        self.consumer_restarts = counter("consumer_restarts", "work-queue consumers re-established")
        # created by the shared limiter, so present only with KOMO_BRAZE_STATE_URL
        self.shared_limit = gauge(
            "shared_limit", "1 while requests draw from the workspace's limit shared in Redis, 0 while paced alone"
        )
        self.shared_limit_fallbacks = counter(
            "shared_limit_fallbacks", "requests paced by the process alone because the shared limit did not answer"
        )

    def initialise(self, workspaces: Iterable[str], *, attributes: Iterable[str] = ()) -> None:
        """Create every series of ``workspaces`` and of the mapping's ``attributes`` at 0 (module docstring)."""
        for attribute in attributes:
            self.rejected_fields.labels(attribute)
        for workspace in workspaces:
            for metric in (
                self.consumed,
                self.acked,
                self.attribute_values_sent,
                self.claims_waited,
                self.returned,
                self.splits,
                self.pauses,
                self.paused_seconds,
                self.coalesced,
                self.consumer_restarts,
                self.pause_probes,
                self.shared_limit_fallbacks,
            ):
                metric.labels(workspace)
            for histogram in (self.batch_objects, self.request_duration, self.latency):
                histogram.labels(workspace)
            for kind in WORKER_DEAD_LETTER_KINDS:
                self.dead_lettered.labels(workspace, kind)
            for status in KNOWN_STATUSES:
                self.requests.labels(workspace, status)
                self.probes.labels(workspace, status)
            for status in CONFIG_FAULT_STATUSES:
                self.config_faults.labels(workspace, status)
            for reason in RETRY_REASONS:
                self.retries.labels(workspace, reason)
            for cause in DUPLICATE_CAUSES:
                self.duplicates.labels(workspace, cause)
            for held_back in HELD_BACK_REASONS:
                self.attributes_held_back.labels(workspace, held_back)
            for header in HEADER_NAMES:
                self.rate_limit_header_unusable.labels(workspace, header)
            self.held.labels(workspace)
            self.breaker_state.labels(workspace)
            # the rate-limit gauges stay absent until Braze's first answer: 0 would read as "no budget"

    def watch_ready(self, ready: Callable[[], bool]) -> None:
        """``komo_braze_worker_ready``: what ``/readyz`` answers, read at each scrape."""
        ready_gauge(self.registry, "worker", ready)

    def value(self, name: str, **labels: str) -> float:
        """The current value of a sample (tests and the demo read metrics through this)."""
        full = name if name.startswith("komo_braze_") else f"{NAMESPACE}_{name}"
        found = self.registry.get_sample_value(full, labels)
        return found or 0.0
