"""Every metric of the producer, in one place.

Each :class:`Producer <producer.app.Producer>` owns a :class:`ProducerMetrics` with its own registry,
so tests that run several intakes in one process read their own counts. Labels are bounded: an HTTP
status code and a fixed set of outcomes, never an id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

#: publish latency buckets (seconds): a confirm normally takes a few milliseconds
PUBLISH_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProducerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "komo_producer_requests",
            "Webhook requests answered, by HTTP status",
            ["status"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "komo_producer_publish_seconds",
            "Time from publish to the broker's confirm, by outcome",
            ["outcome"],
            buckets=PUBLISH_BUCKETS_S,
            registry=self.registry,
        )
        self.publishes_in_flight = Gauge(
            "komo_producer_publishes_in_flight",
            "Publishes waiting for the broker's confirm",
            registry=self.registry,
        )
        self.broker_ready = Gauge(
            "komo_producer_broker_ready",
            "1 while the broker connection is usable, else 0",
            registry=self.registry,
        )
        self.open_connections = Gauge(
            "komo_producer_open_connections",
            "Client connections open now",
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "komo_producer_connections_closed",
            "Client connections the intake closed itself: header_timeout (headers not complete in time), "
            "idle (keep-alive unused), evicted (longest waiting for headers, to admit a new one), "
            "over_capacity (refused with 503: every slot inside a request)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("header_timeout", "idle", "evicted", "over_capacity"):
            self.connections_closed.labels(reason=reason)
        for status in ("202", "400", "401", "408", "413", "415", "503"):
            self.requests.labels(status=status)
        for outcome in ("confirmed", "unavailable", "rejected", "unroutable", "failed"):
            self.publish_seconds.labels(outcome=outcome)
