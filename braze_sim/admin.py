"""Admin endpoints under ``/_sim/``: read what the simulator holds, reset it, change faults and limits.

``GET /_sim/profiles``  all profiles, filtered by ``workspace``, ``external_id``, ``braze_id``, ``email``,
                        ``phone``, ``alias_label`` + ``alias_name``, ``has`` (a custom attribute), ``limit``
``GET /_sim/profile``   the one profile Braze would pick for one identifier (404 when none)
``GET /_sim/events``    accepted events (``workspace``, ``external_id``, ``braze_id``, ``name``, ``limit``)
``GET /_sim/purchases`` accepted purchases (``workspace``, ``external_id``, ``braze_id``, ``product_id``)
``GET /_sim/requests``  the request log (``status``, ``limit``: the latest first); status 0 is a
                        connection closed without an answer (an outage in drop mode, a hang)
``GET /_sim/stats``     requests by status, objects, 429s, profiles per workspace
``POST /_sim/reset``    forget profiles, events, purchases, the log, counters and rate-limit windows
``GET|POST /_sim/faults``      the faults in force; POST changes some (``{"clear": true}`` removes all)
``GET|POST /_sim/rate-limit``  the limits; POST ``{"rate_limit": "5/1s", "workspace": null}``
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from braze_sim.config import FaultSpec
from braze_sim.kept import Kept
from braze_sim.profiles import Profile
from braze_sim.simulator import SIM_KEY, Simulator
from braze_sim.state import WorkspaceState, kept_json


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _fail(status: int, message: str) -> web.HTTPException:
    cls = web.HTTPNotFound if status == 404 else web.HTTPBadRequest
    return cls(text=orjson.dumps({"message": message}).decode(), content_type="application/json")


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


def _workspaces(sim: Simulator, request: web.Request) -> list[WorkspaceState]:
    name = request.query.get("workspace")
    if name is None:
        return list(sim.state.workspaces.values())
    try:
        return [sim.state.workspace(name)]
    except KeyError as exc:
        raise _fail(404, "no such workspace") from exc


def _limit(request: web.Request) -> int | None:
    text = request.query.get("limit")
    if text is None:
        return None
    if not text.isdigit():
        raise _fail(400, "limit must be a non-negative integer")
    return int(text)


def _identifier_object(request: web.Request) -> dict[str, Any]:
    """The query as a /users/track identifier, so that look-ups follow Braze's identity rules."""
    query = request.query
    if "alias_label" in query or "alias_name" in query:
        return {"user_alias": {"alias_label": query.get("alias_label", ""), "alias_name": query.get("alias_name", "")}}
    for key in ("external_id", "braze_id", "email", "phone"):
        if key in query:
            return {key: query[key]}
    raise _fail(400, "name one of external_id, braze_id, email, phone, or alias_label and alias_name")


def _profile_matches(profile: Profile, query: Any) -> bool:
    if "external_id" in query and profile.external_id != query["external_id"]:
        return False
    if "braze_id" in query and profile.braze_id != query["braze_id"]:
        return False
    if "email" in query and (profile.email or "").lower() != query["email"].lower():
        return False
    if "phone" in query and profile.phone != query["phone"]:
        return False
    if "alias_label" in query and profile.aliases.get(query["alias_label"]) != query.get("alias_name"):
        return False
    return "has" not in query or query["has"] in profile.values


async def profiles(request: web.Request) -> web.Response:
    sim = _sim(request)
    found = [
        profile.to_json(state.workspace.name)
        for state in _workspaces(sim, request)
        for profile in state.profiles.all()
        if _profile_matches(profile, request.query)
    ]
    limit = _limit(request)
    return _json({"profiles": found if limit is None else found[:limit]})


async def profile(request: web.Request) -> web.Response:
    sim = _sim(request)
    wanted = _identifier_object(request)
    for state in _workspaces(sim, request):
        found = state.profiles.find(wanted)
        if found is not None:
            return _json(found.to_json(state.workspace.name))
    raise _fail(404, "no such profile")


def _kept(request: web.Request, records: Iterable[Kept], field: str, answer_key: str) -> web.Response:
    sim = _sim(request)
    stores = {state.workspace.name: state.profiles for state in _workspaces(sim, request)}
    query = request.query
    found = []
    for record in records:
        store = stores.get(record.workspace)
        if store is None or ("braze_id" in query and record.braze_id != query["braze_id"]):
            continue
        answer = kept_json(record, store.by_braze_id.get(record.braze_id))
        if "external_id" in query and answer["external_id"] != query["external_id"]:
            continue
        if field in query and answer.get(field) != query[field]:
            continue
        found.append(answer)
    limit = _limit(request)
    return _json({answer_key: found if limit is None else found[:limit]})


async def events(request: web.Request) -> web.Response:
    return _kept(request, _sim(request).state.events, "name", "events")


async def purchases(request: web.Request) -> web.Response:
    return _kept(request, _sim(request).state.purchases, "product_id", "purchases")


async def requests_log(request: web.Request) -> web.Response:
    sim = _sim(request)
    status = request.query.get("status")
    entries = [r.to_json() for r in reversed(sim.state.requests) if status is None or str(r.status) == status]
    limit = _limit(request)
    return _json({"requests": entries if limit is None else entries[:limit]})


async def stats(request: web.Request) -> web.Response:
    sim = _sim(request)
    return _json({**sim.state.stats(), "hanging": sim.hanging, "faults_active": sim.faults.active})


async def reset(request: web.Request) -> web.Response:
    _sim(request).state.reset()
    return _json({"message": "reset"})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise _fail(400, "the body must be JSON") from exc
    if not isinstance(body, dict):
        raise _fail(400, "the body must be a JSON object")
    return body


async def get_faults(request: web.Request) -> web.Response:
    return _json(_sim(request).faults.describe())


async def set_faults(request: web.Request) -> web.Response:
    sim = _sim(request)
    changes = await _body(request)
    try:
        if changes.pop("clear", False):
            sim.faults.apply(FaultSpec())
        sim.faults.update(changes)
    except (ValueError, TypeError) as exc:
        raise _fail(400, str(exc)) from exc
    return _json(sim.faults.describe())


async def get_rate_limit(request: web.Request) -> web.Response:
    return _json({"rate_limit": _sim(request).state.stats()["rate_limit"]})


async def set_rate_limit(request: web.Request) -> web.Response:
    sim = _sim(request)
    body = await _body(request)
    rate = body.get("rate_limit")
    workspace = body.get("workspace")
    if not isinstance(rate, str) or not (workspace is None or isinstance(workspace, str)):
        raise _fail(400, "rate_limit must be a string like 3000/3s; workspace a name, key or null")
    try:
        sim.state.set_rate_limit(rate, workspace)
    except ValueError as exc:
        raise _fail(400, str(exc)) from exc
    except KeyError as exc:
        raise _fail(404, "no such workspace") from exc
    return await get_rate_limit(request)


def add_admin_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_sim/profiles", profiles)
    router.add_get("/_sim/profile", profile)
    router.add_get("/_sim/events", events)
    router.add_get("/_sim/purchases", purchases)
    router.add_get("/_sim/requests", requests_log)
    router.add_get("/_sim/stats", stats)
    router.add_post("/_sim/reset", reset)
    router.add_get("/_sim/faults", get_faults)
    router.add_post("/_sim/faults", set_faults)
    router.add_get("/_sim/rate-limit", get_rate_limit)
    router.add_post("/_sim/rate-limit", set_rate_limit)
