"""The router's decisions: first in isolation (a mapper that answers what the test says, a settler and
pipelines that record what they are handed), then what it does with rejected fields end to end (real
broker, real braze_sim, the worker's ``serve`` and a real mapping)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import cast

import pytest
import structlog
from prometheus_client import CollectorRegistry

from braze_sim.testing import running_sim
from komo_braze.deadletter import ErrorKind
from komo_braze.envelope import Envelope
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.factories import delivered, mapped
from tests.worker.harness import acked, body, dead_letters, publish, running_worker
from tests.worker.mapping.samples import mapping
from worker.batch import Submission
from worker.log_throttle import LogThrottle
from worker.mapping.model import MappingErrorKind, MappingFailure, MapResult, RejectedField
from worker.metrics import WorkerMetrics
from worker.pipeline import WorkspacePipeline
from worker.router import Router
from worker.settle import Delivery, Settler

NUMBERS_MAPPING = """
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes:
      first_name: first_name
      score: {to: komo_last_score, type: number}
      level: {to: komo_level, type: integer}
    event: {name: komo_form_submitted}
"""


async def test_a_number_too_large_for_a_float_drops_only_that_field_and_the_rest_is_delivered(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    bodies = [
        body("u-digits", n=1, first_name="Ann", score="9" * 400, level="7"),
        body("u-integer", n=2, first_name="Bob", score="12.5", level="9" * 400),
        body("u-exponent", n=3, first_name="Cy", score="1e999", level="-1E99999999999"),
    ]
    async with running_sim() as sim, running_worker(broker, mapping(NUMBERS_MAPPING), braze_url=sim.url) as worker:
        await publish(broker, bodies)
        await eventually(acked(worker, 3), what="3 acks")
        profiles = {
            user: await sim.client.profile(external_id=user) for user in ("u-digits", "u-integer", "u-exponent")
        }
        assert len(await sim.client.events()) == 3
        assert worker.value("rejected_fields_total", attribute="komo_last_score") == 2
        assert worker.value("rejected_fields_total", attribute="komo_level") == 2
    assert await dead_letters(broker) == []
    assert all(profile is not None for profile in profiles.values())
    custom = {user: profile["custom_attributes"] for user, profile in profiles.items() if profile is not None}
    assert custom == {"u-digits": {"komo_level": 7}, "u-integer": {"komo_last_score": 12.5}, "u-exponent": {}}
    names = [profile["attributes"]["first_name"] for profile in profiles.values() if profile is not None]
    assert names == ["Ann", "Bob", "Cy"]


async def test_rejected_fields_are_logged_at_info_once_per_hub_field_and_reason_and_counted_every_time(
    broker: BrokerKit,
) -> None:
    await broker.declare()
    bodies = [body(f"u-{n}", n=n, hub="hub-1", first_name="Ann", score="lots") for n in range(5)]
    bodies += [body(f"v-{n}", n=n, hub="hub-2", score="plenty", level="4.5") for n in range(2)]
    with structlog.testing.capture_logs() as events:
        async with running_sim() as sim, running_worker(broker, mapping(NUMBERS_MAPPING), braze_url=sim.url) as w:
            await publish(broker, bodies)
            await eventually(acked(w, 7), what="7 acks")
            assert w.value("rejected_fields_total", attribute="komo_last_score") == 7
            assert w.value("rejected_fields_total", attribute="komo_level") == 2
    logged = [
        (e["log_level"], e["hub_id"], e["field"], e["attribute"], e["reason"])
        for e in events
        if e["event"] == "field_rejected"
    ]
    assert sorted(logged) == [
        ("info", "hub-1", "score", "komo_last_score", "not a number"),
        ("info", "hub-2", "level", "komo_level", "not a whole number"),
        ("info", "hub-2", "score", "komo_last_score", "not a number"),
    ]
    shown = repr([e for e in events if e["event"] == "field_rejected"])
    for value in ("lots", "plenty", "4.5", "Ann"):
        assert value not in shown


# --- the router's decisions, in isolation ------------------------------------------------------------


@dataclass
class RecordingSettler:
    """Takes the router's dead letters: ``(submission_id, kind, detail, workspace)`` each."""

    dead: list[tuple[str | None, ErrorKind, str, str]] = field(default_factory=list)

    async def dead_letter(self, delivery: Delivery, kind: ErrorKind, detail: str, *, workspace: str) -> bool:
        await asyncio.sleep(0)  # a real one awaits a publisher confirm
        self.dead.append((delivery.ids()["submission_id"], kind, detail, workspace))
        return True


@dataclass
class RecordingPipeline:
    added: list[Submission[Delivery]] = field(default_factory=list)

    def add(self, submission: Submission[Delivery]) -> None:
        self.added.append(submission)


@dataclass
class AnsweringMapper:
    """Answers every envelope with ``answer`` (or raises it)."""

    answer: MapResult | Exception

    def map(self, envelope: Envelope) -> MapResult:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@dataclass
class Routed:
    settler: RecordingSettler
    pipelines: dict[str, RecordingPipeline]
    metrics: WorkerMetrics

    def rejected(self, attribute: str) -> float:
        return self.metrics.value("rejected_fields_total", attribute=attribute)


def envelope_delivery(submission_id: str = "s-1", hub: str = "hub-1") -> Delivery:
    payload = body("u-1", submission_id=submission_id, hub=hub, first_name="Ann")
    return delivered(submission_id, body=Envelope.from_komo(payload).encode())


async def route(answer: MapResult | Exception, *deliveries: Delivery) -> Routed:
    settler, pipelines = RecordingSettler(), {"default": RecordingPipeline()}
    metrics = WorkerMetrics(CollectorRegistry())
    router = Router(
        AnsweringMapper(answer),
        cast(dict[str, WorkspacePipeline], pipelines),
        cast(Settler, settler),
        metrics,
        rejection_log=LogThrottle(60.0),
    )
    for delivery in deliveries:
        router.route(delivery)
    await router.drain(timeout_s=5)
    return Routed(settler, pipelines, metrics)


@pytest.mark.timeout(10)
async def test_a_body_that_is_no_envelope_is_dead_lettered_as_invalid_to_its_queues_workspace() -> None:
    routed = await route(mapped("u-1"), delivered("m-9", body=b"not json"))
    [(submission_id, kind, _detail, workspace)] = routed.settler.dead
    assert (submission_id, kind, workspace) == ("m-9", ErrorKind.INVALID_SUBMISSION, "default")
    assert routed.pipelines["default"].added == []


@pytest.mark.timeout(10)
async def test_a_mapper_that_crashes_dead_letters_that_submission_and_names_only_the_error_type() -> None:
    with structlog.testing.capture_logs() as events:
        routed = await route(ZeroDivisionError("secret value 42"), envelope_delivery("s-1"))
    assert routed.settler.dead == [
        ("s-1", ErrorKind.INVALID_SUBMISSION, "the mapping failed on this submission: ZeroDivisionError", "default")
    ]
    assert [(e["event"], e["error"]) for e in events] == [("mapping_crashed", "ZeroDivisionError")]
    assert "secret value 42" not in repr(events)


@pytest.mark.timeout(10)
async def test_a_mapping_failure_is_dead_lettered_with_its_own_kind_and_detail() -> None:
    failure = MappingFailure(MappingErrorKind.NO_IDENTIFIER, "no identify rule found a value (customer_id)")
    routed = await route(failure, envelope_delivery("s-2"))
    assert routed.settler.dead == [
        ("s-2", ErrorKind.NO_IDENTIFIER, "no identify rule found a value (customer_id)", "default")
    ]
    assert routed.pipelines["default"].added == []


@pytest.mark.timeout(10)
async def test_a_submission_mapped_to_a_workspace_this_worker_does_not_serve_is_dead_lettered_as_unmapped() -> None:
    routed = await route(mapped("u-1", workspace="elsewhere"), envelope_delivery("s-3", hub="hub-7"))
    assert routed.settler.dead == [
        (
            "s-3",
            ErrorKind.UNMAPPED_HUB,
            "the mapping sends hub hub-7 to workspace 'elsewhere', not configured",
            "elsewhere",
        )
    ]


@pytest.mark.timeout(10)
async def test_a_mapped_submission_goes_to_its_workspaces_pipeline_sized_by_its_body() -> None:
    delivery = envelope_delivery("s-4")
    result = mapped("u-1")
    routed = await route(result, delivery)
    assert routed.settler.dead == []
    [submission] = routed.pipelines["default"].added
    assert submission.handle is delivery
    assert (submission.submission_id, submission.mapped, submission.size_bytes) == (
        "s-4",
        result,
        len(delivery.body),
    )
    assert delivery.envelope is not None
    assert delivery.envelope.submission_id == "s-4"


@pytest.mark.timeout(10)
async def test_rejected_fields_are_counted_every_time_and_logged_once_per_hub_attribute_and_reason() -> None:
    result = replace(mapped("u-1"), rejected=(RejectedField("email", "not a valid email address", field="mail"),))
    with structlog.testing.capture_logs() as events:
        routed = await route(result, envelope_delivery("s-5"), envelope_delivery("s-6"), envelope_delivery("s-7"))
    assert len(routed.pipelines["default"].added) == 3
    assert routed.rejected("email") == 3
    logged = [(e["submission_id"], e["field"], e["reason"]) for e in events if e["event"] == "field_rejected"]
    assert logged == [("s-5", "mail", "not a valid email address")]
