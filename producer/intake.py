"""``POST /v1/submissions``: one Komo body in, one confirmed message on the broker, then ``202``.

Checks run cheapest first and nothing is published unless all pass:
``413`` from ``Content-Length`` before reading, ``415`` not JSON, ``413`` again while reading a chunked
body, ``401`` credentials (or a signed timestamp outside its window, or a replayed signature), ``400`` not
a JSON object, no id / ``site_id`` or one too long for the broker, ``503`` broker away.
Every answer but ``202`` carries ``{"error": "<one line>"}``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from aiohttp import web

from komo_braze.envelope import Envelope, EnvelopeError, body_ids
from komo_braze.logs import get_logger
from komo_braze.publish_errors import PublishFailed
from komo_braze.publishing import ConfirmPublisher
from producer.auth import Authenticator
from producer.metrics import ProducerMetrics
from producer.replay import ReplayGuard, ReplayRefused

log = get_logger(__name__)

SUBMISSIONS_PATH = "/v1/submissions"
JSON_TYPES = frozenset({"application/json", "text/json"})


class IntakeRejected(Exception):
    """A request answered with an error status; ``reason`` is its one-line JSON body."""

    def __init__(
        self, status: int, reason: str, *, close: bool = False, ids: dict[str, str | None] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close
        #: ``submission_id`` and ``hub_id`` for the log event, once the body was read and authenticated
        self.ids = ids or {"submission_id": None, "hub_id": None}


def is_json(content_type: str) -> bool:
    return content_type in JSON_TYPES or (content_type.startswith("application/") and content_type.endswith("+json"))


def check_declared_length(request: web.Request, max_body_bytes: int) -> None:
    """Refuse a body whose ``Content-Length`` is over the limit, before reading any of it."""
    declared = request.content_length
    if declared is not None and declared > max_body_bytes:
        # answer without reading the rest, and close: the connection still holds the unread body
        raise IntakeRejected(413, f"body of {declared} bytes is over the limit of {max_body_bytes}", close=True)


async def read_body(request: web.Request, max_body_bytes: int, timeout_s: float) -> bytes:
    """The raw body, refusing it once it grows over ``max_body_bytes`` (a chunked body has no length)
    or takes longer than ``timeout_s``."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > max_body_bytes:
                    raise IntakeRejected(413, f"body is over the limit of {max_body_bytes} bytes", close=True)
                chunks.append(chunk)
    except TimeoutError as exc:
        raise IntakeRejected(408, "body not received in time", close=True) from exc
    return b"".join(chunks)


class SubmissionHandler:
    """The request handler; one per intake, shared by every request."""

    def __init__(
        self,
        publisher: ConfirmPublisher,
        authenticator: Authenticator,
        metrics: ProducerMetrics,
        *,
        replays: ReplayGuard,
        max_body_bytes: int,
        body_timeout_s: float,
        retry_after_s: float,
    ) -> None:
        self._publisher = publisher
        self._authenticator = authenticator
        self._replays = replays
        self._metrics = metrics
        self._max_body_bytes = max_body_bytes
        self._body_timeout_s = body_timeout_s
        self._retry_after = str(max(1, math.ceil(retry_after_s)))

    async def handle(self, request: web.Request) -> web.Response:
        try:
            submission_id = await self._accept(request)
        except IntakeRejected as rejected:
            response = self._answer_error(rejected)
            if rejected.close:
                # the rest of the body is never read: send the answer, then close without lingering
                await response.prepare(request)
                await response.write_eof()
                request.protocol.force_close()
            return response
        self._metrics.requests.labels(status="202").inc()
        return web.json_response({"submission_id": submission_id}, status=202)

    async def _accept(self, request: web.Request) -> str:
        received_at = datetime.now(UTC)
        check_declared_length(request, self._max_body_bytes)
        if not is_json(request.content_type):
            raise IntakeRejected(415, f"content type {request.content_type} is not JSON; send application/json")
        body = await read_body(request, self._max_body_bytes, self._body_timeout_s)
        if not self._authenticator.allows(request.headers, body):
            raise IntakeRejected(401, "missing or invalid credentials")
        claim = self._claim_signature(request)
        try:
            envelope = self._envelope(body, received_at)
            await self._publish(envelope)
        except BaseException:
            # not accepted (or not known to be): the sender's retry of this signed request is no replay
            self._replays.release(claim)
            raise
        return envelope.submission_id

    def _claim_signature(self, request: web.Request) -> str | None:
        signature = self._authenticator.signature_checked(request.headers)
        if signature is None:
            return None
        try:
            return self._replays.claim(request.headers, signature)
        except ReplayRefused as refused:
            raise IntakeRejected(401, refused.reason) from refused

    @staticmethod
    def _envelope(body: bytes, received_at: datetime) -> Envelope:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise IntakeRejected(400, "body is not valid JSON") from exc
        try:
            return Envelope.from_komo(payload, received_at=received_at)
        except EnvelopeError as exc:
            raise IntakeRejected(400, exc.reason, ids=body_ids(payload)) from exc

    async def _publish(self, envelope: Envelope) -> None:
        started = time.perf_counter()
        outcome = "confirmed"
        try:
            with self._metrics.publishes_in_flight.track_inprogress():
                await self._publisher.publish_envelope(envelope)
        except PublishFailed as exc:
            outcome = exc.kind
            ids: dict[str, str | None] = {"submission_id": envelope.submission_id, "hub_id": envelope.hub_id}
            log.warning("publish_failed", outcome=outcome, reason=exc.reason, **ids)
            raise IntakeRejected(503, f"{exc.reason}; retry later", ids=ids) from exc
        finally:
            self._metrics.publish_seconds.labels(outcome=outcome).observe(time.perf_counter() - started)
        log.debug("submission_accepted", submission_id=envelope.submission_id, hub_id=envelope.hub_id)

    def _answer_error(self, rejected: IntakeRejected) -> web.Response:
        self._metrics.requests.labels(status=str(rejected.status)).inc()
        headers = {"Retry-After": self._retry_after} if rejected.status == 503 else None
        response = web.json_response({"error": rejected.reason}, status=rejected.status, headers=headers)
        if rejected.close:
            response.force_close()
        if rejected.status != 503:
            log.info("submission_refused", status=rejected.status, reason=rejected.reason, **rejected.ids)
        return response


def add_intake_routes(app: web.Application, handler: Callable[[web.Request], Awaitable[web.Response]]) -> None:
    app.router.add_post(SUBMISSIONS_PATH, handler)
