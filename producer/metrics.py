"""Every metric of the producer, in one place.

Each :class:`Producer <producer.app.Producer>` owns a :class:`ProducerMetrics` with its own registry,
so tests that run several intakes in one process read their own counts. Labels are bounded: an HTTP
status code and a fixed set of outcomes, never an id. Every series exists from the start (at 0), so
that ``increase()`` sees the first 503 as well as the thousandth.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from komo_braze.metrics import process_registry, ready_gauge

NAMESPACE = "komo_braze_producer"

#: publish latency buckets (seconds): a confirm normally takes a few milliseconds
PUBLISH_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: every status the intake answers (README, "The intake")
STATUSES = ("202", "400", "401", "408", "413", "415", "503")
#: why the intake closed a client connection itself (``producer/connections.py``)
CLOSE_REASONS = ("header_timeout", "idle", "evicted", "over_capacity")
#: how a publish ended (:class:`komo_braze.publish_errors.PublishFailed` kinds, and success)
OUTCOMES = ("confirmed", "unavailable", "rejected", "unroutable", "failed")


class ProducerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else process_registry("producer")
        self.requests = Counter(
            "requests",
            "Webhook requests answered, by HTTP status",
            ["status"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "publish_seconds",
            "Time from publish to the broker's confirm, by outcome",
            ["outcome"],
            buckets=PUBLISH_BUCKETS_S,
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.publishes_in_flight = Gauge(
            "publishes_in_flight",
            "Publishes waiting for the broker's confirm",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.open_connections = Gauge(
            "open_connections",
            "Client connections open now",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "connections_closed",
            "Client connections the intake closed itself: header_timeout (headers not complete in time), "
            "idle (keep-alive unused), evicted (longest waiting for headers, to admit a new one), "
            "over_capacity (refused with 503: every slot inside a request)",
            ["reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        for reason in CLOSE_REASONS:
            self.connections_closed.labels(reason=reason)
        for status in STATUSES:
            self.requests.labels(status=status)
        for outcome in OUTCOMES:
            self.publish_seconds.labels(outcome=outcome)

    def watch_ready(self, ready: Callable[[], bool]) -> None:
        """``komo_braze_producer_ready``: what ``/readyz`` answers (the broker usable), read at each scrape."""
        ready_gauge(self.registry, "producer", ready)
