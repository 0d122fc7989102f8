"""Several ``komo-braze worker`` processes on one queue and one state store, for the multi-worker tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_state import clear_store
from braze_sim.testing import RunningSim
from devtools.components import Component
from komo_braze.envelope import Envelope
from komo_braze.publishing import envelope_message
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import process_mapping, start_worker_process


@dataclass
class Fleet:
    """Workers sharing a broker prefix, a braze_sim and (with ``state_url``) a state store."""

    kit: BrokerKit
    sim: RunningSim
    directory: Path
    state_url: str | None
    settings: dict[str, str] = field(default_factory=dict)
    skip_unchanged: bool = False
    workers: list[Component] = field(default_factory=list)
    started: int = 0

    async def start(self, count: int = 1) -> list[Component]:
        mapping = process_mapping(skip_unchanged=self.skip_unchanged)
        settings = {**({"state_url": self.state_url} if self.state_url else {}), **self.settings}
        names = [f"worker-{self.started + n + 1}" for n in range(count)]
        self.started += count
        new = await asyncio.gather(
            *(
                start_worker_process(self.kit, self.sim.url, self.directory, name, mapping_text=mapping, **settings)
                for name in names
            )
        )
        self.workers += new
        return list(new)

    async def stop(self, worker: Component) -> int:
        self.workers.remove(worker)
        return await worker.stop()

    async def kill(self, worker: Component) -> None:
        self.workers.remove(worker)
        worker.process.kill()
        await worker.process.wait()

    async def stop_all(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers))
        self.workers.clear()

    async def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric over the running workers."""
        wanted = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
        total = 0.0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for worker in self.workers:
                async with session.get(f"{worker.url}/metrics") as response:
                    for line in (await response.text()).splitlines():
                        sample, _, value = line.rpartition(" ")
                        if sample == name + wanted:
                            total += float(value)
        return total

    def logged(self, event: str) -> list[str]:
        """Names of the running workers that logged ``event``."""
        return [w.name for w in self.workers if event in {e.get("event") for e in w.log_events()}]


@asynccontextmanager
async def fleet(
    kit: BrokerKit, sim: RunningSim, directory: Path, state_url: str | None, **options: Any
) -> AsyncIterator[Fleet]:
    """A fleet; its workers are stopped and its state store keys deleted afterwards."""
    crew = Fleet(kit, sim, directory, state_url, **options)
    try:
        yield crew
    finally:
        await crew.stop_all()
        if state_url:
            await clear_store(state_url, kit.prefix)


async def publish_fast(kit: BrokerKit, bodies: Sequence[dict[str, Any]]) -> None:
    """Publish with confirms, 500 at a time (a backlog of thousands in a few seconds)."""
    async with kit.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(kit.names.exchange)
        envelopes = [Envelope.from_komo(body) for body in bodies]
        for start in range(0, len(envelopes), 500):
            await asyncio.gather(
                *(
                    exchange.publish(envelope_message(e), e.routing_key, mandatory=True)
                    for e in envelopes[start : start + 500]
                )
            )


async def event_counts(sim: RunningSim) -> Counter[str]:
    """How many ``komo_form_submitted`` events braze_sim holds per submission id."""
    events = await sim.client.events(limit=1_000_000)
    return Counter(str(e["properties"]["submission_id"]) for e in events)


async def settle(kit: BrokerKit, crew: Fleet, sim: RunningSim, ids: set[str], timeout_s: float = 90.0) -> None:
    """Wait until Braze holds every id and the work queue is empty with nothing held by a worker."""

    async def check() -> bool:
        return (
            set(await event_counts(sim)) >= ids
            and await kit.count(kit.names.work_queue()) == 0
            and await crew.metric("komo_braze_worker_messages_held", workspace="default") == 0
        )

    await eventually(check, timeout_s, "every submission delivered and settled")


async def events_reach(sim: RunningSim, count: int, timeout_s: float = 60.0) -> None:
    """Wait until braze_sim holds at least ``count`` events."""
    await eventually(lambda: _has_events(sim, count), timeout_s, f"{count} events")


async def _has_events(sim: RunningSim, count: int) -> bool:
    return sum((await event_counts(sim)).values()) >= count


async def logged_by_all(crew: Fleet, event: str, timeout_s: float = 30.0) -> None:
    async def check() -> bool:
        return len(crew.logged(event)) == len(crew.workers)

    await eventually(check, timeout_s, f"every worker to log {event}")
