"""Traffic and watching for the cluster test: a stream of Komo submissions posted to the intake, every
answer recorded, and the workers' consumption sampled, so that a pause can be measured afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from devtools.components import Component

CONSUMED = "komo_braze_worker_messages_consumed_total{"


@dataclass(frozen=True, slots=True)
class Answer:
    submission_id: str
    status: int
    at_s: float  # time.monotonic() when the answer came


@dataclass
class SubmissionStream:
    """Posts ``bodies`` to the intake from ``posters`` tasks, each pausing ``interval_s`` between posts."""

    intake_url: str
    bodies: Iterator[dict[str, Any]]
    posters: int = 4
    interval_s: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    posted: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def post(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> int:
        self.posted[str(body["submission_id"])] = body
        try:
            async with session.post(
                f"{self.intake_url}/v1/submissions",
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0  # the intake itself did not answer: never expected, counted against the test
        self.answers.append(Answer(str(body["submission_id"]), status, time.monotonic()))
        return status

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def poster() -> None:
                for body in self.bodies:
                    if stop.is_set():
                        return
                    await self.post(session, body)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.interval_s)

            async with asyncio.TaskGroup() as group:
                for _ in range(self.posters):
                    group.create_task(poster())

    async def post_again(self, submission_ids: set[str]) -> None:
        """Post these submissions once more, one at a time (Komo retrying what got a 503)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for submission_id in sorted(submission_ids):
                await self.post(session, self.posted[submission_id])

    def with_status(self, status: int) -> set[str]:
        return {a.submission_id for a in self.answers if a.status == status}

    def statuses(self) -> set[int]:
        return {a.status for a in self.answers}

    def first_after(self, moment_s: float, status: int = 202) -> float | None:
        """Seconds from ``moment_s`` to the first answer ``status`` after it."""
        later = [a.at_s for a in self.answers if a.status == status and a.at_s > moment_s]
        return min(later) - moment_s if later else None

    def count_between(self, start_s: float, end_s: float, status: int) -> int:
        return sum(1 for a in self.answers if a.status == status and start_s <= a.at_s <= end_s)

    def longest_pause(self, start_s: float, end_s: float) -> float:
        """The longest time within ``[start_s, end_s]`` without a 202."""
        return longest_gap([a.at_s for a in self.answers if a.status == 202], start_s, end_s)


@dataclass
class WorkerWatch:
    """Samples each worker's ``messages_consumed_total`` every ``interval_s``."""

    workers: list[Component]
    interval_s: float = 0.1
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    async def consumed(self, session: aiohttp.ClientSession, worker: Component) -> float | None:
        try:
            async with session.get(f"{worker.url}/metrics") as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None
        for line in text.splitlines():
            if line.startswith(CONSUMED):
                return float(line.rsplit(" ", 1)[-1])
        return 0.0

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not stop.is_set():
                for worker in self.workers:
                    value = await self.consumed(session, worker)
                    if value is not None:
                        self.samples.setdefault(worker.name, []).append((time.monotonic(), value))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval_s)

    def longest_pause(self, worker: str, start_s: float, end_s: float) -> float:
        """The longest time within ``[start_s, end_s]`` in which ``worker`` consumed nothing."""
        samples = self.samples.get(worker, [])
        consumed_at = [at for (_, previous), (at, value) in itertools.pairwise(samples) if value > previous]
        return longest_gap(consumed_at, start_s, end_s)

    def resumed_after(self, worker: str, moment_s: float) -> float | None:
        """Seconds from ``moment_s`` until ``worker`` consumed a message it did not have at that moment."""
        samples = self.samples.get(worker, [])
        before = [value for at, value in samples if at <= moment_s]
        if not before:
            return None
        later = [at for at, value in samples if at > moment_s and value > before[-1]]
        return min(later) - moment_s if later else None


def longest_gap(moments: list[float], start_s: float, end_s: float) -> float:
    """The longest stretch of ``[start_s, end_s]`` holding none of ``moments``."""
    inside = sorted(m for m in moments if start_s <= m <= end_s)
    edges = [start_s, *inside, end_s]
    return max(later - earlier for earlier, later in itertools.pairwise(edges))
