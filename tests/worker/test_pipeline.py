"""One workspace's pipeline on its own, against a real braze_sim and the in-process state store: what it
decides for each submission by Braze's answer. The settler records what it is asked to ack or dead-letter
(acks on the broker are the ack tracker's, ``tests/worker/test_settle.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from braze_sim.testing import RunningSim, running_sim
from komo_braze.deadletter import ErrorKind
from tests.worker.factories import T0, OpenChannel, delivered, mapped
from worker.batch import Submission
from worker.braze_client import BrazeClient
from worker.breaker import Breaker
from worker.coalesce import BatchLimits
from worker.gate import BrazeGate
from worker.metrics import WorkerMetrics
from worker.pacer import Pacer
from worker.pipeline import WorkspacePipeline
from worker.settle import Delivery, Settler
from worker.state import user_token
from worker.state.memory import MemoryState, MemoryStore

pytestmark = pytest.mark.timeout(30)


@dataclass
class RecordingSettler:
    acked: list[str] = field(default_factory=list)
    dead: list[tuple[str, ErrorKind, str]] = field(default_factory=list)

    async def ack_many(self, deliveries: list[Delivery], *, defer: bool = True) -> list[Delivery]:
        for delivery in deliveries:
            delivery.mark_settled()
            self.acked.append(str(delivery.ids()["submission_id"]))
        return deliveries

    async def dead_letter(
        self, delivery: Delivery, kind: ErrorKind, detail: str, *, workspace: str, attempts: int | None = None
    ) -> bool:
        delivery.mark_settled()
        self.dead.append((str(delivery.ids()["submission_id"]), kind, detail))
        return True


@dataclass
class Kit:
    pipeline: WorkspacePipeline
    settler: RecordingSettler
    sim: RunningSim
    metrics: WorkerMetrics

    def requests(self, status: str) -> float:
        labels = {"workspace": "default", "status": status}
        return self.metrics.registry.get_sample_value("komo_braze_worker_requests_total", labels) or 0.0

    async def deliver(self, *submissions: Submission[Delivery]) -> None:
        """Hand the submissions in, then close and wait until every one is settled."""
        run = asyncio.create_task(self.pipeline.run())
        for submission in submissions:
            self.pipeline.add(submission)
        self.pipeline.close()
        async with asyncio.timeout(20):
            await run


def submission(
    user: str, submission_id: str, *, channel: object | None = None, **attributes: Any
) -> Submission[Delivery]:
    result = mapped(user, attributes=attributes, submission_id=submission_id)
    return Submission(delivered(submission_id, channel=channel), submission_id, result, T0)


@asynccontextmanager
async def pipeline_to_sim(store: MemoryStore | None = None, **sim_options: Any) -> AsyncIterator[Kit]:
    metrics = WorkerMetrics(CollectorRegistry())
    settler = RecordingSettler()
    store = store or MemoryStore(accepted_retention_s=3600, user_retention_s=3600, claim_ttl_s=10)
    async with running_sim(**sim_options) as sim:
        client = BrazeClient(sim.url, SecretStr("test-key"), max_in_flight=2, timeout_s=5.0)
        async with client:
            breaker = Breaker(failure_threshold=3, base_s=0.01, cap_s=0.05)
            gate = BrazeGate("default", client, Pacer(jitter_s=0.0), breaker, metrics)
            pipeline = WorkspacePipeline(
                gate,
                cast(Settler, settler),
                metrics,
                limits=BatchLimits(linger_s=0.05),
                max_batches=2,
                store=store,
                claim_ttl_s=10,
            )
            yield Kit(pipeline, settler, sim, metrics)


async def test_a_batch_braze_accepts_is_acked_whole_after_one_request() -> None:
    async with pipeline_to_sim() as kit:
        await kit.deliver(*(submission(f"u-{n}", f"s-{n}", first_name="Ann") for n in range(3)))
        assert sorted(kit.settler.acked) == ["s-0", "s-1", "s-2"]
        assert kit.settler.dead == []
        assert kit.requests("201") == 1
        assert len(await kit.sim.client.events()) == 3


async def test_a_copy_of_a_submission_braze_accepted_is_acked_without_a_second_send() -> None:
    store = MemoryStore(accepted_retention_s=3600, user_retention_s=3600, claim_ttl_s=10)
    async with pipeline_to_sim(store) as first:
        await first.deliver(submission("u-1", "s-1", first_name="Ann"))
    async with pipeline_to_sim(store) as again:  # the same store: the worker after a restart
        await again.deliver(submission("u-1", "s-1", first_name="Ann"))
        assert again.settler.acked == ["s-1"]
        assert again.requests("201") == 0
        duplicates = again.metrics.registry.get_sample_value(
            "komo_braze_duplicates_total", {"workspace": "default", "cause": "accepted"}
        )
        assert duplicates == 1


async def test_an_object_braze_names_in_its_errors_is_dead_lettered_and_the_others_are_acked() -> None:
    async with pipeline_to_sim() as kit:
        await kit.deliver(
            submission("u-1", "s-1", first_name="Ann"),
            submission("u-2", "s-2", braze_id="b-2"),  # two identifiers: Braze refuses that object
            submission("u-3", "s-3", first_name="Cy"),
        )
        assert sorted(kit.settler.acked) == ["s-1", "s-3"]
        [(submission_id, kind, detail)] = kit.settler.dead
        assert (submission_id, kind) == ("s-2", ErrorKind.BRAZE_REJECTED)
        assert detail.startswith("attributes[1]: object must have only one of")
        assert kit.requests("201") == 1


async def test_a_request_refused_whole_is_split_until_only_the_submission_at_fault_is_dead_lettered() -> None:
    async with pipeline_to_sim(max_body_bytes=2048) as kit:
        await kit.deliver(
            submission("u-1", "s-1", first_name="Ann"),
            submission("u-2", "s-2", bio="x" * 3000),  # alone too large for this Braze
            submission("u-3", "s-3", first_name="Cy"),
        )
        assert sorted(kit.settler.acked) == ["s-1", "s-3"]
        [(submission_id, kind, detail)] = kit.settler.dead
        assert (submission_id, kind) == ("s-2", ErrorKind.BRAZE_REJECTED)
        assert detail.startswith("HTTP 413")
        assert kit.requests("413") >= 2  # the whole batch, then the half and the one holding it
        splits = kit.metrics.registry.get_sample_value("komo_braze_worker_batch_splits_total", {"workspace": "default"})
        assert splits == kit.requests("413")  # each refusal split what it refused


async def test_a_submission_whose_channel_closed_before_its_send_is_neither_sent_acked_nor_dead_lettered() -> None:
    closed = OpenChannel()
    closed.is_closed = True  # the broker has put it back on the queue: it will be delivered again
    async with pipeline_to_sim() as kit:
        gone = submission("u-1", "s-1", channel=closed, first_name="Ann")
        await kit.deliver(gone, submission("u-2", "s-2", first_name="Bob"))
        assert kit.settler.acked == ["s-2"]
        assert kit.settler.dead == []
        assert gone.handle.settled
        assert await kit.sim.client.profile(external_id="u-1") is None


async def test_a_submission_whose_user_another_worker_held_through_a_long_outage_is_sent_once_free() -> None:
    shared = MemoryState()
    other = MemoryStore(shared, accepted_retention_s=3600, user_retention_s=3600, claim_ttl_s=10)
    store = MemoryStore(shared, accepted_retention_s=3600, user_retention_s=3600, claim_ttl_s=10)
    waiting = submission("u-1", "s-1", first_name="Ann")
    waiting.claim_waits = 5000  # tried again every 200 ms for some 17 minutes already
    token = user_token(waiting.user)
    await other.claim([token], [])

    async def free_later() -> None:
        await asyncio.sleep(0.3)
        await other.release([token])

    async with pipeline_to_sim(store) as kit:
        freeing = asyncio.create_task(free_later())
        await kit.deliver(waiting)
        await freeing
        assert kit.settler.acked == ["s-1"]
        assert waiting.claim_waits > 5000
