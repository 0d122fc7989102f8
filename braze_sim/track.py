"""``POST /users/track``: the checks in Braze's order, then the objects applied.

Order: faults at the edge (latency, outage, 401 window) → the API key (401, without rate-limit
headers: the request never reached a workspace) → the 403 window (a key without the permission) →
the workspace's rate limit (429; every later answer carries ``X-RateLimit-*``) → faults behind the
edge (429 storm, hang, 5xx, and hostile answers that apply nothing: :mod:`braze_sim.hostile`) → size
(413) → a JSON object (400) → object counts (400) → each object (201 with ``errors[]`` for the rejected
ones; a hostile kind that applies the request corrupts the rate-limit headers of that answer).
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp import web

from braze_sim import hostile
from braze_sim.faults import Action, Plan
from braze_sim.ratelimit import Verdict
from braze_sim.simulator import SIM_KEY, Simulator
from braze_sim.state import RequestRecord
from braze_sim.validation import RequestRejected, bearer_key, object_arrays, parse_body

_JSON = "application/json"
_STATUS_MESSAGES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _answer(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON, headers=headers)


def _storm_verdict(verdict: Verdict) -> Verdict:
    return Verdict(False, verdict.limit, 0, verdict.reset_epoch_s)


async def handle_track(request: web.Request) -> web.Response:
    sim: Simulator = request.app[SIM_KEY]
    started = time.perf_counter()
    record = RequestRecord(at=time.time(), workspace=None, status=0)
    try:
        response = await _track(sim, request, record)
    finally:
        record.latency_ms = (time.perf_counter() - started) * 1000
        sim.finish(record)
    return response


async def _track(sim: Simulator, request: web.Request, record: RequestRecord) -> web.Response:
    plan = sim.faults.plan()
    if plan.delay_s:
        await asyncio.sleep(plan.delay_s)
    if plan.before_auth is Action.OUTAGE_503:
        record.status, record.note = 503, "outage"
        return _answer(503, {"message": "Service Unavailable"})
    if plan.before_auth is Action.OUTAGE_DROP:
        record.status, record.note = 0, "outage: connection dropped"
        return hostile.drop(request)

    key = bearer_key(request.headers.get("Authorization"))
    state = sim.state.by_key.get(key) if key is not None else None
    if state is None or plan.before_auth is Action.UNAUTHORIZED:
        record.status = 401
        record.note = "401 window" if plan.before_auth is Action.UNAUTHORIZED else ""
        return _answer(401, {"message": "Invalid API key"})
    record.workspace = state.workspace.name
    if plan.before_auth is Action.FORBIDDEN:
        # a known key without the users.track permission: refused before the endpoint's limiter
        record.status, record.note = 403, "403 window"
        return _answer(403, {"message": "Forbidden: the API key lacks the users.track permission"})

    if plan.after_auth is Action.STORM_429:
        verdict = _storm_verdict(state.limiter.peek())
        record.note = "429 storm"
    else:
        verdict = state.limiter.take()
    headers = verdict.headers()
    if not verdict.allowed:
        record.status = 429
        return _answer(429, {"message": "Rate limit exceeded"}, headers)

    if plan.after_auth is Action.HANG:
        record.note = "hung"
        await sim.hang()
        return hostile.drop(request)
    if plan.after_auth is Action.ERROR:
        record.status, record.note = plan.error_status, "injected"
        message = _STATUS_MESSAGES.get(plan.error_status, "Server Error")
        return _answer(plan.error_status, {"message": message}, headers)

    if plan.hostile is not None and not plan.hostile.processes:
        return await _hostile(sim, request, plan, verdict, record)

    try:
        raw = await _read_body(request, sim.config.max_body_bytes)
        arrays = object_arrays(parse_body(raw), sim.config.mode, sim.config.max_objects)
    except RequestRejected as rejected:
        record.status = rejected.status
        return _answer(rejected.status, {"message": rejected.message}, headers)

    record.attributes, record.events, record.purchases = (len(a) for a in arrays)
    outcome = sim.state.track(state, arrays)
    body: dict[str, object] = {"message": "success", **outcome.processed}
    if outcome.errors:
        body["errors"] = outcome.errors
        record.errors = len(outcome.errors)
    record.status = 201
    if plan.hostile is not None:  # applied as Braze would, answered with unusable rate-limit headers
        record.note = f"hostile {plan.hostile.value}"
        headers = hostile.corrupt_headers(plan.hostile, verdict)
    return _answer(201, body, headers)


async def _hostile(
    sim: Simulator, request: web.Request, plan: Plan, verdict: Verdict, record: RequestRecord
) -> web.Response:
    """A hostile answer that applies nothing (:mod:`braze_sim.hostile`)."""
    assert plan.hostile is not None
    record.note = f"hostile {plan.hostile.value}"
    if plan.hostile is hostile.HostileKind.HANG:
        await sim.hang(sim.faults.spec.hostile_hang_s)
    response = hostile.answer(
        plan.hostile, request, verdict, redirect_to=sim.faults.spec.redirect_to, status_5xx=plan.error_status
    )
    record.status = 0 if response.status == hostile.DROPPED else response.status
    return response


def _too_large(max_bytes: int) -> RequestRejected:
    return RequestRejected(413, f"Payload Too Large: at most {max_bytes} bytes")


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(max_bytes) from exc
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    return raw
