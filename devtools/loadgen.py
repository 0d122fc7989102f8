"""Post Komo submissions to an intake as many concurrent clients (the demo and the intake benchmark)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

from komo_braze.logs import error_fields, get_logger

log = get_logger(__name__)

#: status recorded for a request that got no HTTP answer at all (connection refused, reset, timeout)
NO_ANSWER = 0
REQUEST_TIMEOUT_S = 30.0


@dataclass
class PostReport:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def posted(self) -> int:
        return sum(self.statuses.values())

    @property
    def accepted(self) -> int:
        return self.statuses[202]

    @property
    def rejected(self) -> int:
        """Answered with a 4xx: the intake refused the submission."""
        return sum(count for status, count in self.statuses.items() if 400 <= status < 500)

    @property
    def failed(self) -> int:
        """Neither accepted nor refused: a 5xx, or no answer."""
        return self.posted - self.accepted - self.rejected

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s if self.duration_s > 0 else 0.0

    def latency_percentile_s(self, fraction: float) -> float:
        if not self.latencies_s:
            return 0.0
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def post_submissions(
    url: str,
    bodies: Sequence[bytes],
    *,
    headers: Mapping[str, str] | None = None,
    concurrency: int = 64,
    on_answer: Callable[[int], None] | None = None,
) -> PostReport:
    """POST every body to ``url`` from ``concurrency`` clients at once; returns what came back."""
    report = PostReport()
    pending: Iterator[bytes] = iter(bodies)
    request_headers = {"Content-Type": "application/json", **(headers or {})}

    async def client(session: aiohttp.ClientSession) -> None:
        for body in pending:  # the clients share one iterator: each body is posted once
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=request_headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("post_failed", **error_fields(exc))
                status = NO_ANSWER
            report.latencies_s.append(time.perf_counter() - started)
            report.statuses[status] += 1
            if on_answer is not None:
                on_answer(status)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        asyncio.TaskGroup() as clients,
    ):
        for _ in range(max(1, concurrency)):
            clients.create_task(client(session))
    report.duration_s = time.perf_counter() - started
    return report
