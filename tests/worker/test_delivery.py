"""End to end in one process: real RabbitMQ, real braze_sim over HTTP, the worker's ``serve``."""

from __future__ import annotations

from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import acked, body, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper


async def test_accepted_submissions_are_acked_and_reach_braze(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim() as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker:
        await publish(broker, [body(f"user-{n}", first_name=f"Name{n}") for n in range(30)])
        await eventually(acked(worker, 30), what="30 acks")
        assert len(await sim.client.events()) == 30
        profile = await sim.client.profile(external_id="user-7")
        assert profile is not None
        assert profile["attributes"]["first_name"] == "Name7"
        assert await broker.wait_for_count(broker.names.work_queue(), 0) == 0
        assert await broker.count(broker.names.dead_queue) == 0
        assert worker.value("request_objects_count", workspace="default") >= 1
        assert worker.value("end_to_end_latency_seconds_count", workspace="default") == 30
        assert worker.value("requests_total", workspace="default", status="201") >= 1


async def test_three_submissions_of_one_user_become_one_attribute_object_and_three_events(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim() as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_linger_ms=500) as worker,
    ):
        await publish(
            broker,
            [
                body("joe", n=1, team="Swans", first_name="Joe"),
                body("joe", n=3, team="Cats"),
                body("joe", n=2, team="Lions", last_name="Bloggs"),
            ],
        )
        await eventually(acked(worker, 3), what="3 acks")
        [request] = await sim.client.requests(status=201)
        assert (request["attributes"], request["events"]) == (1, 3)
        assert len(await sim.client.events(external_id="joe")) == 3
        profile = await sim.client.profile(external_id="joe")
        assert profile is not None
        assert profile["custom_attributes"]["team"] == "Cats"  # the latest Komo timestamp wins
        assert profile["attributes"] == {"first_name": "Joe", "last_name": "Bloggs"}
        assert worker.value("coalesced_updates_total", workspace="default") == 2


async def test_a_redelivered_submission_logs_no_second_event(broker: BrokerKit) -> None:
    await broker.declare()
    first = body("joe", submission_id="sub-1", team="Swans")
    async with (
        running_sim() as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_linger_ms=300) as worker,
    ):
        await publish(broker, [first, first])  # the same submission twice in one batch
        await eventually(acked(worker, 2), what="2 acks")
        assert len(await sim.client.events(external_id="joe")) == 1
        await publish(broker, [first])  # and once more after Braze accepted it
        await eventually(acked(worker, 3), what="3 acks")
        assert len(await sim.client.events(external_id="joe")) == 1
        assert worker.value("komo_braze_duplicates_total", workspace="default", cause="accepted") == 1
        assert worker.value("komo_braze_duplicates_total", workspace="default", cause="same_batch") == 1
        assert len(await sim.client.requests(status=201)) == 1


async def test_per_user_order_holds_across_consecutive_batches(broker: BrokerKit) -> None:
    await broker.declare()
    users = [f"user-{n}" for n in range(4)]
    bodies = [body(users[n % 4], n=n, seq=n) for n in range(240)]
    async with (
        running_sim(latency_ms=20, latency_jitter_ms=40) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_linger_ms=0, batch_max_bytes=2048) as worker,
    ):
        await publish(broker, bodies)
        await eventually(acked(worker, 240), timeout_s=60, what="240 acks")
        assert len(await sim.client.requests(status=201)) > 10  # many batches, several in flight at once
        for user in users:
            profile = await sim.client.profile(external_id=user)
            assert profile is not None
            assert profile["custom_attributes"]["seq"] == max(n for n in range(240) if users[n % 4] == user)
            events = await sim.client.events(external_id=user)
            sent_order = [b["submission_id"] for b in bodies if b["customer_id"] == user]
            assert [e["properties"]["submission_id"] for e in events] == sent_order
