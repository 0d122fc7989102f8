"""A three-node cluster of the test's own loses a node twice under a stream of submissions.

The producer and two workers run as processes given all three nodes' addresses. While submissions
stream through the intake, the node the producer is connected to is stopped (and started again), then
the node holding the work queue's leader is killed with SIGKILL (and started again). The ledger at the
end: every submission answered 202 is in braze_sim or a dead letter with a reason; the intake answered
nothing but 202 or 503; both workers consumed again within seconds of each loss. The figures (answers,
pauses) are printed; ``make test-cluster`` shows them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from braze_sim.testing import RunningSim, running_sim
from devtools.components import Component, component_env, start_component
from devtools.samples import SampleFactory
from komo_braze import topology
from tests.broker import BrokerKit, unique_prefix
from tests.cluster.traffic import SubmissionStream, WorkerWatch
from tests.own_broker import OwnBroker
from tests.own_cluster import OwnCluster
from tests.waiting import eventually
from tests.worker.harness import dead_letters, start_worker_process

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.asyncio(loop_scope="session"),  # the session's cluster (conftest.py)
]

#: "within seconds": a worker or the intake that needs longer than this after a node loss fails the test
RESUME_WITHIN_S = 20.0
#: how long the stream runs on two nodes after each loss before the node is started again
STEADY_S = 3.0
#: connection name the producer gives its broker connection (``komo_braze.amqp.connect``)
PRODUCER_CONNECTION = "komo-braze producer"


async def start_pipeline(cluster: OwnCluster, sim: RunningSim, prefix: str, tmp_path: Path) -> list[Component]:
    """The producer and two workers, started in parallel, each with every node's address."""
    kit = BrokerKit(amqp_url=cluster.amqp_url, prefix=prefix)
    common = {"reconnect_interval_s": "0.5", "publish_timeout_s": "5"}
    producer_env = component_env(amqp_url=kit.amqp_url, prefix=prefix, producer_bind="127.0.0.1:0", **common)
    return list(
        await asyncio.gather(
            start_component("producer", ["producer"], producer_env, tmp_path, ready_timeout_s=60),
            start_worker_process(kit, sim.url, tmp_path, "worker-1", **common),
            start_worker_process(kit, sim.url, tmp_path, "worker-2", **common),
        )
    )


async def test_losing_the_producer_node_then_the_leader_node_loses_nothing_answered_202(
    cluster: OwnCluster, tmp_path: Path
) -> None:
    prefix = unique_prefix("cluster")
    work_queue = topology.Names(prefix).work_queue()
    async with running_sim() as sim:
        components = await start_pipeline(cluster, sim, prefix, tmp_path)
        producer, workers = components[0], components[1:]
        samples = SampleFactory(seed=12, users=400)
        stream = SubmissionStream(producer.url, (samples.submission(n) for n in itertools.count()))
        watch = WorkerWatch(workers)
        stop_stream, stop_watch = asyncio.Event(), asyncio.Event()
        streaming = asyncio.create_task(stream.run(stop_stream))
        watching = asyncio.create_task(watch.run(stop_watch))
        losses: list[tuple[str, float, float]] = []  # what, when, when the node was started again
        try:

            async def flowing_since(moment_s: float) -> bool:
                workers_resumed = all(watch.resumed_after(w.name, moment_s) is not None for w in workers)
                return stream.first_after(moment_s) is not None and workers_resumed

            async def both_consuming() -> bool:
                return await cluster.consumers_of(work_queue) == 2

            async def started() -> bool:
                consumed = [watch.samples.get(w.name, [(0.0, 0.0)])[-1][1] for w in workers]
                return len(stream.with_status(202)) >= 30 and min(consumed) > 0

            await eventually(started, 30, "the stream to flow through both workers", interval_s=0.2)

            async def lose(label: str, node: OwnBroker, *, kill: bool) -> None:
                """Stop (or kill) ``node``, wait for the flow to resume, run on, start the node again."""
                lost_at = time.monotonic()
                await (node.kill() if kill else node.stop())
                try:
                    await eventually(lambda: flowing_since(lost_at), 30, f"flow after the {label}", interval_s=0.2)
                    await eventually(both_consuming, 30, "two consumers on the surviving nodes", interval_s=0.2)
                    await asyncio.sleep(STEADY_S)
                    losses.append((label, lost_at, time.monotonic()))
                finally:  # the session's cluster is whole again for the next test, whatever happened
                    await node.start()

            # 1. the node the producer is connected to stops; 2. the node holding the queue's leader dies
            producer_node = cluster.node(await cluster.connection_node(PRODUCER_CONNECTION))
            await lose("producer's node stopped", producer_node, kill=False)
            await lose("leader's node killed", cluster.node(await cluster.leader_of(work_queue)), kill=True)
            await asyncio.sleep(1.0)
        finally:
            stop_stream.set()
            await streaming
        try:
            # Komo retries what got a 503; with every node back, the intake takes it
            refused = stream.with_status(503) - stream.with_status(202)
            await stream.post_again(refused)
            accepted = stream.with_status(202)

            async def delivered_ids() -> set[str]:
                return {e["properties"]["submission_id"] for e in await sim.client.events(limit=1_000_000)}

            async def all_delivered() -> bool:
                return accepted <= await delivered_ids()

            await eventually(all_delivered, 60, "every accepted submission in braze_sim", interval_s=0.2)
        finally:
            stop_watch.set()
            await watching
            for component in components:
                await component.stop()
        kit = BrokerKit(amqp_url=cluster.running()[0].amqp_url, prefix=prefix)
        dead = await dead_letters(kit)
        delivered = await delivered_ids()
        events = await sim.client.events(limit=1_000_000)

    figures: dict[str, float] = {
        "posted": len(stream.posted),
        "answers": len(stream.answers),
        "answered 202": len(accepted),
        "answered 503": len(stream.with_status(503)),
        "503 then 202 on retry": len(refused & accepted),
        "in braze_sim": len(delivered & accepted),
        "dead letters": len(dead),
        "lost": len(accepted - delivered - {str(d.submission_id) for d in dead}),
        "events sent twice (redelivery after a loss)": len(events) - len(delivered),
    }
    pauses: dict[str, float] = {}
    for label, lost_at, back_at in losses:
        pauses[f"{label}: intake, longest without a 202 (s)"] = stream.longest_pause(lost_at, back_at)
        pauses[f"{label}: 503 answers"] = stream.count_between(lost_at, back_at, 503)
        for worker in workers:
            pauses[f"{label}: {worker.name}, longest without consuming (s)"] = watch.longest_pause(
                worker.name, lost_at, back_at
            )
    figures.update({k: round(v, 2) for k, v in pauses.items()})
    print("\ncluster ledger:\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items()))

    assert stream.statuses() <= {202, 503}
    assert figures["lost"] == 0
    assert accepted == set(stream.posted)  # every submission got its 202 at last, after Komo's retry
    assert all(letter.kind for letter in dead)
    for label, value in pauses.items():
        if label.endswith("(s)"):
            assert value < RESUME_WITHIN_S, label
