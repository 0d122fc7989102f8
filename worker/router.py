"""From a delivery to its workspace's pipeline: decode the envelope, map it, or dead-letter it at once.

Runs synchronously inside the consumer callback, so deliveries reach the coalescer in arrival order;
the only awaits (dead-letter publishes) run in tasks this router owns and awaits on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from komo_braze.deadletter import ErrorKind
from komo_braze.envelope import Envelope, EnvelopeError
from komo_braze.logs import get_logger
from worker.batch import Submission
from worker.log_throttle import LogThrottle
from worker.mapping.model import MappingFailure, MapResult, RejectedField
from worker.metrics import WorkerMetrics
from worker.pipeline import WorkspacePipeline
from worker.settle import Delivery, Settler

log = get_logger(__name__)

#: a rejected field is logged at most once per hub, attribute and reason in this window (always counted)
REJECTED_FIELD_LOG_WINDOW_S = 60.0


class Mapper(Protocol):
    """What the worker needs of a mapping (``worker.mapping.MappingConfig`` is one)."""

    def map(self, envelope: Envelope) -> MapResult: ...


class Router:
    def __init__(
        self,
        mapper: Mapper,
        pipelines: Mapping[str, WorkspacePipeline],
        settler: Settler,
        metrics: WorkerMetrics,
        *,
        rejection_log: LogThrottle | None = None,
    ) -> None:
        self._mapper = mapper
        self._pipelines = pipelines
        self._settler = settler
        self._metrics = metrics
        self._rejection_log = rejection_log or LogThrottle(REJECTED_FIELD_LOG_WINDOW_S)
        self._tasks: set[asyncio.Task[bool]] = set()

    def route(self, delivery: Delivery) -> None:
        try:
            envelope = Envelope.decode(delivery.body)
        except EnvelopeError as exc:
            self._dead_letter(delivery, ErrorKind.INVALID_SUBMISSION, exc.reason, delivery.queue_workspace)
            return
        delivery.envelope = envelope
        try:
            result = self._mapper.map(envelope)
        except Exception as exc:  # a mapper bug must not stop the worker; a replay after the fix re-maps
            log.exception("mapping_crashed", error=type(exc).__name__, **delivery.ids())
            detail = f"the mapping failed on this submission: {type(exc).__name__}"
            self._dead_letter(delivery, ErrorKind.INVALID_SUBMISSION, detail, delivery.queue_workspace)
            return
        if isinstance(result, MappingFailure):
            self._dead_letter(delivery, ErrorKind(result.kind.value), result.detail, delivery.queue_workspace)
            return
        for rejected in result.rejected:
            self._note_rejected(delivery, envelope.hub_id, rejected)
        pipeline = self._pipelines.get(result.workspace)
        if pipeline is None:
            detail = f"the mapping sends hub {envelope.hub_id} to workspace {result.workspace!r}, not configured"
            self._dead_letter(delivery, ErrorKind.UNMAPPED_HUB, detail, result.workspace)
            return
        # the body's size bounds the objects' size closely enough for packing; the request's real size is
        # checked again before it is sent
        size = len(delivery.body)
        pipeline.add(Submission(delivery, envelope.submission_id, result, envelope.received_at, size_bytes=size))

    def _note_rejected(self, delivery: Delivery, hub_id: str, rejected: RejectedField) -> None:
        """Count every rejected field; log it (name and reason, never the value) once a window."""
        self._metrics.rejected_fields.labels(rejected.attribute).inc()
        left_out = self._rejection_log.admit((hub_id, rejected.attribute, rejected.reason))
        if left_out is not None:
            log.info(
                "field_rejected",
                **delivery.ids(),  # the submission that showed it first in this window
                field=rejected.field,
                attribute=rejected.attribute,
                reason=rejected.reason,
                left_out=left_out,
                window_s=REJECTED_FIELD_LOG_WINDOW_S,
            )

    def _dead_letter(self, delivery: Delivery, kind: ErrorKind, detail: str, workspace: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self._settler.dead_letter(delivery, kind, detail, workspace=workspace)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float) -> None:
        """Wait for dead-letter publishes still under way."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
