"""The ledger under a hostile Braze: a worker process, fed for a while through braze_sim's hostile mode
(every kind of :mod:`braze_sim.hostile`, a seeded share of the requests), ends with every submission
accepted exactly once or dead-lettered with a reason, never exits by itself, and never floods Braze.

``make test`` runs it for ``SOAK_S`` (20 s of publishing); ``KOMO_BRAZE_TEST_SOAK_S=600`` runs it longer,
``KOMO_BRAZE_TEST_SOAK_SEED`` picks another mix.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from braze_sim.testing import RunningSim, running_sim
from devtools.samples import SampleFactory
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import dead_letters, publish, start_worker_process

SOAK_S = float(os.environ.get("KOMO_BRAZE_TEST_SOAK_S", "20"))
SEED = int(os.environ.get("KOMO_BRAZE_TEST_SOAK_SEED", "9"))
#: the share of requests answered with a hostile kind: the rest are answered normally, so delivery progresses
HOSTILE_RATE = 0.4
#: submissions published every half second while the soak lasts
WAVE = 12
#: the most requests braze_sim may see in any one second: the worker sends at most 8 at once, paced; a
#: hot loop on a hostile answer made hundreds a second
MAX_REQUESTS_PER_S = 60

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SOAK_S + 120)]


async def test_through_a_hostile_braze_every_submission_is_accepted_once_or_dead_lettered_with_a_reason(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await broker.declare()
    samples = SampleFactory(seed=SEED, users=200)
    published: list[str] = []
    async with running_sim(hostile_rate=HOSTILE_RATE, seed=SEED) as sim:  # hangs last 2 s, then the connection closes
        worker = await start_worker_process(
            broker,
            sim.url,
            tmp_path,
            "worker-1",
            # longer than a hostile hang, and than any normal answer on a busy machine: a timeout on a request
            # braze_sim did store would send it again, and the ledger would rightly count a duplicate
            braze_timeout_s="3",
            braze_retry_base_s="0.05",
            braze_retry_max_s="1",
            braze_pause_probe_s="1",  # far Resets and huge Retry-Afters are probed every second
        )
        try:
            started = time.monotonic()
            while time.monotonic() - started < SOAK_S:
                bodies = [samples.submission(len(published) + n) for n in range(WAVE)]
                await publish(broker, bodies)
                published += [str(b["submission_id"]) for b in bodies]
                await asyncio.sleep(0.5)
                assert worker.process.returncode is None, worker.log_tail()
            await eventually(
                lambda: _settled(sim, broker, set(published)), timeout_s=90, what="every submission settled"
            )
            assert worker.process.returncode is None, "the worker exited on its own:\n" + worker.log_tail()
        finally:
            status = await worker.stop()
        assert status == 0
        delivered = Counter(await _delivered_ids(sim))
        letters = await dead_letters(broker)
        stats = await sim.client.stats()
        requests = await sim.client.requests(limit=1_000_000)
    assert [sid for sid, count in delivered.items() if count > 1] == []  # nothing accepted twice
    dead = {letter.submission_id: letter for letter in letters}
    assert set(delivered) | set(dead) == set(published)  # nothing lost
    assert not set(delivered) & set(dead)
    assert all(letter.kind and letter.detail for letter in letters)  # dead-lettered with a reason
    hostile = Counter(entry["note"] for entry in requests if entry["note"].startswith("hostile "))
    assert len(hostile) >= 12, f"the mix should have met most of the 18 kinds: {sorted(hostile)}"
    busiest = max(Counter(int(entry["at"]) for entry in requests).values())
    assert busiest <= MAX_REQUESTS_PER_S, f"{busiest} requests in one second ({stats['requests']} in all)"


async def _delivered_ids(sim: RunningSim) -> list[str]:
    return [e["properties"]["submission_id"] for e in await sim.client.events(limit=1_000_000)]


async def _settled(sim: RunningSim, kit: BrokerKit, ids: set[str]) -> bool:
    delivered = set(await _delivered_ids(sim))
    if delivered >= ids:
        return True
    # what is not delivered must be nowhere but the dead-letter queue: the work queue empty, nothing held
    return await kit.count(kit.names.work_queue()) == 0 and len(delivered) + await kit.count(
        kit.names.dead_queue
    ) >= len(ids)
