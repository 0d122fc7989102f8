"""Each row of the outcome table of docs/architecture.md, made to happen for real against braze_sim."""

from __future__ import annotations

from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import RunningWorker, acked, body, dead_letters, publish, running_worker
from tests.worker.simple_mapper import SimpleMapper


async def test_partial_errors_dead_letter_only_the_messages_behind_the_named_objects(broker: BrokerKit) -> None:
    await broker.declare()
    bodies = [body(f"user-{n}", team="Swans") for n in range(10)]
    bodies[4]["team"] = "x" * 300  # Braze takes at most 255 characters: this attribute object is rejected
    async with running_sim() as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker:
        await publish(broker, bodies)
        await eventually(acked(worker, 10), what="10 settled")
        [letter] = await dead_letters(broker)
        assert letter.kind == "braze_rejected"
        assert letter.submission_id == bodies[4]["submission_id"]
        assert "attributes[4]" in letter.detail
        assert letter.workspace == "default"
        assert letter.envelope is not None
        assert letter.envelope.payload == bodies[4]
        assert len(await sim.client.profiles(has="team")) == 9
        assert worker.value("messages_dead_lettered_total", workspace="default", kind="braze_rejected") == 1


async def test_a_400_splits_the_batch_and_every_half_gets_through(broker: BrokerKit) -> None:
    await broker.declare()
    # the worker thinks the account takes 75 per array, Braze counts 75 in all: 100 objects -> 400
    async with (
        running_sim(mode="combined") as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_mode="per-array", batch_linger_ms=300) as w,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(50)])
        await eventually(acked(w, 50), what="50 acks")
        assert len(await sim.client.requests(status=400)) >= 1
        assert len(await sim.client.events()) == 50
        assert await dead_letters(broker) == []
        assert w.value("batch_splits_total", workspace="default") >= 1


async def test_a_413_is_split_until_the_offender_is_alone_and_only_it_is_dead_lettered(broker: BrokerKit) -> None:
    await broker.declare()
    bodies = [body(f"user-{n}") for n in range(8)]
    bodies[5].update({f"field_{k}": "y" * 250 for k in range(40)})  # ~10 KB on its own
    async with (
        running_sim(max_body_bytes=8000) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, batch_linger_ms=300) as worker,
    ):
        await publish(broker, bodies)
        await eventually(acked(worker, 8), what="8 settled")
        [letter] = await dead_letters(broker)
        assert letter.kind == "braze_rejected"
        assert letter.submission_id == bodies[5]["submission_id"]
        assert "413" in letter.detail
        assert len(await sim.client.events()) == 7


async def test_a_429_pauses_and_resends_and_is_never_a_failure(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim(storm_429_for_s=1.5) as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as w:
        await publish(broker, [body(f"user-{n}") for n in range(20)])
        await eventually(acked(w, 20), what="20 acks")
        assert len(await sim.client.requests(status=429)) >= 1
        assert len(await sim.client.events()) == 20
        assert await dead_letters(broker) == []
        assert w.value("rate_limit_pauses_total", workspace="default") >= 1
        assert w.value("rate_limit_paused_seconds_total", workspace="default") > 0


async def test_an_outage_opens_the_breaker_holds_everything_and_dead_letters_nothing(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim(outage_for_s=3.0) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, braze_breaker_failures=3) as worker,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(20)])
        await eventually(
            lambda: _value_at_least(worker, "breaker_state", 2, workspace="default"), what="the breaker to open"
        )
        assert worker.value("messages_held", workspace="default") == 20
        await eventually(acked(worker, 20), timeout_s=30, what="20 acks after the outage")
        assert worker.value("breaker_state", workspace="default") == 0
        assert worker.value("retries_total", workspace="default", reason="status_503") >= 3
        assert len(await sim.client.events()) == 20
        assert await dead_letters(broker) == []


async def test_timeouts_and_dropped_connections_are_retried(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim(hang_rate=1.0, hang_s=5.0) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url, braze_timeout_s=0.3) as worker,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(5)])
        await eventually(
            lambda: _value_at_least(worker, "retries_total", 2, workspace="default", reason="timeout"),
            what="timeouts",
        )
        await sim.client.set_faults(clear=True, outage_for_s=1.0, outage_mode="drop")
        await eventually(acked(worker, 5), timeout_s=30, what="5 acks")
        assert worker.value("retries_total", workspace="default", reason="connection_error") >= 1
        assert len(await sim.client.events()) == 5
        assert await dead_letters(broker) == []


async def test_a_401_window_dead_letters_nothing_and_delivery_resumes_by_itself(broker: BrokerKit) -> None:
    await broker.declare()
    async with (
        running_sim(unauthorized_for_s=2.0) as sim,
        running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker,
    ):
        await publish(broker, [body(f"user-{n}") for n in range(10)])
        await eventually(
            lambda: _value_at_least(worker, "config_faults_total", 1, workspace="default", status="401"),
            what="a configuration fault",
        )
        assert worker.value("breaker_state", workspace="default") >= 1
        await eventually(acked(worker, 10), timeout_s=30, what="10 acks after the 401 window")
        assert len(await sim.client.events()) == 10
        assert await dead_letters(broker) == []


async def test_undecodable_and_unidentifiable_submissions_are_dead_lettered_at_once(broker: BrokerKit) -> None:
    await broker.declare()
    async with running_sim() as sim, running_worker(broker, SimpleMapper(), braze_url=sim.url) as worker:
        await publish(broker, [body(None, first_name="Anon"), body("ok-user")], raw=[b"not json at all"])
        await eventually(acked(worker, 3), what="3 settled")
        letters = sorted(await dead_letters(broker), key=lambda letter: letter.kind)
        assert [letter.kind for letter in letters] == ["invalid_submission", "no_identifier"]
        assert letters[0].body == b"not json at all"
        assert len(await sim.client.events()) == 1


async def _value_at_least(worker: RunningWorker, name: str, minimum: float, **labels: str) -> bool:
    return worker.value(name, **labels) >= minimum
