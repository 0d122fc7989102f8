"""The delivery half of ``komo-braze demo``: braze_sim, a worker, and what the worker's metrics say.

braze_sim runs with Braze's real limit (3000 requests per 3 s) and a little fault injection (a few 5xx
answers, some latency); the worker runs with the mapping below. Everything is read over HTTP from the
worker's ``/metrics`` (``devtools`` never imports ``worker``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

SIM_API_KEY = "demo-key"
SIM_FAULTS = ("--rate-limit", "3000/3s", "--error-rate", "0.05", "--latency-ms", "15", "--latency-jitter-ms", "25")


def with_flaws(body: dict[str, Any], n: int) -> dict[str, Any]:
    """Make some submissions imperfect, as real ones are: a bad email or phone (the field is dropped), no
    identifier at all or only an invalid one (the submission is dead-lettered)."""
    if n % 50 == 7:
        body["email"] = "olivia.smith@@example"  # dropped; the customer_id still identifies
    elif n % 50 == 13:
        body["mobile"] = "12"
    elif n % 100 == 21:
        body.pop("customer_id", None)
        body.pop("email", None)  # no identifier: no_identifier
    elif n % 100 == 42:
        body.pop("customer_id", None)
        body["email"] = "not an address"  # invalid_identifier
    return body


@dataclass
class WorkerFigures:
    """What the worker's ``/metrics`` say, summed over workspaces."""

    samples: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    dead_letters: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    requests_by_status: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def settled(self) -> float:
        return self.samples["komo_braze_worker_messages_acked_total"]

    def value(self, name: str) -> float:
        return self.samples[f"komo_braze_worker_{name}"]

    def latency_quantile_s(self, q: float) -> float | None:
        """The upper bound of the histogram bucket holding quantile ``q`` (None: no data)."""
        total = self.latency_buckets.get(float("inf"), 0.0)
        if not total:
            return None
        for bound in sorted(self.latency_buckets):
            if self.latency_buckets[bound] >= q * total:
                return bound
        return None


async def read_worker(session: aiohttp.ClientSession, url: str) -> WorkerFigures:
    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    figures = WorkerFigures()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            figures.samples[sample.name] += sample.value
            if not sample.value:  # every series exists from the start: the summary names what happened
                continue
            if sample.name == "komo_braze_worker_messages_dead_lettered_total":
                figures.dead_letters[sample.labels["kind"]] += sample.value
            elif sample.name == "komo_braze_worker_requests_total":
                figures.requests_by_status[sample.labels["status"]] += sample.value
            elif sample.name == "komo_braze_worker_end_to_end_latency_seconds_bucket":
                figures.latency_buckets[float(sample.labels["le"])] += sample.value
    return figures
