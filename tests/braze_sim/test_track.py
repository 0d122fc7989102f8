"""``POST /users/track`` over real HTTP: every status code, the order of the checks, and the
``errors[]`` answer with its indexes."""

from __future__ import annotations

import aiohttp
import orjson

from braze_sim.testing import RunningSim, running_sim
from tests.braze_sim import examples
from tests.braze_sim.helpers import BrazeCaller, attrs

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


async def test_the_documented_requests_are_accepted_whole(braze: BrazeCaller) -> None:
    for body in (examples.TRACK_BY_EMAIL, examples.TRACK_BY_PHONE, examples.TRACK_SUBSCRIPTION_GROUPS,
                 examples.TRACK_ALIAS_ONLY):  # fmt: skip
        answer = await braze.track(body)
        assert answer.status == 201, answer.body
        assert "errors" not in answer.body
        assert answer.body["message"] == "success"
    answer = await braze.track({"attributes": examples.USER_ATTRIBUTES_EXAMPLE, "events": examples.EVENTS_EXAMPLE,
                                "purchases": examples.PURCHASES_EXAMPLE})  # fmt: skip
    assert answer.status == 201
    assert answer.body == {
        "message": "success",
        "attributes_processed": 3,
        "events_processed": 3,
        "purchases_processed": 3,
    }


async def test_counts_only_for_the_arrays_sent(braze: BrazeCaller) -> None:
    answer = await braze.track({"events": examples.EVENTS_EXAMPLE[:2]})
    assert answer.body == {"message": "success", "events_processed": 2}


async def test_invalid_objects_are_named_by_array_and_index_and_the_others_applied(
    braze: BrazeCaller, sim: RunningSim
) -> None:
    body = {
        "attributes": [
            {"external_id": "ok-1", "first_name": "Ada"},
            {"first_name": "nobody"},
            {"external_id": "ok-2", "dob": "02/14/1988"},
            {"external_id": "ok-3", "favourite_team": "Swans"},
        ],
        "events": [
            {"external_id": "ok-1", "name": "komo_form_submitted", "time": "2024-05-01T10:00:00Z"},
            {"external_id": "ok-1", "name": "komo_form_submitted"},
        ],
        "purchases": [
            {"external_id": "ok-1", "product_id": "p", "currency": "AUD", "price": "free", "time": "2024-05-01"}
        ],
    }
    answer = await braze.track(body)
    assert answer.status == 201
    assert answer.body == {
        "message": "success",
        "attributes_processed": 2,
        "events_processed": 1,
        "purchases_processed": 0,
        "errors": [
            {"type": "object must have one of 'external_id', 'braze_id', 'user_alias', 'email' or 'phone'",
             "input_array": "attributes", "index": 1},
            {"type": "'dob' must be a date as 'YYYY-MM-DD'", "input_array": "attributes", "index": 2},
            {"type": "'time' is required", "input_array": "events", "index": 1},
            {"type": "'price' must be a number", "input_array": "purchases", "index": 0},
        ],
    }  # fmt: skip
    assert {p["external_id"] for p in await sim.client.profiles()} == {"ok-1", "ok-3"}
    assert len(await sim.client.events()) == 1
    assert await sim.client.purchases() == []


async def test_401_for_a_missing_unknown_or_quoted_key_without_rate_limit_headers(braze: BrazeCaller) -> None:
    for answer in (
        await braze.track(attrs({"external_id": "u"}), key=None),
        await braze.track(attrs({"external_id": "u"}), key="other-key"),
        await braze.track(attrs({"external_id": "u"}), authorization='Bearer "test-key"'),
        await braze.track(attrs({"external_id": "u"}), authorization="test-key"),
    ):
        assert answer.status == 401
        assert answer.body == {"message": "Invalid API key"}
        assert not set(RATE_HEADERS) & set(answer.headers)


async def test_401_comes_before_the_body_is_looked_at(braze: BrazeCaller) -> None:
    answer = await braze.track(None, raw=b"not json", key="wrong")
    assert answer.status == 401


async def test_400_for_a_body_that_is_not_a_json_object(braze: BrazeCaller) -> None:
    for raw in (b"not json", b"[]", b'"attributes"', b"{}", b'{"attributes": {"external_id": "u"}}'):
        answer = await braze.track(None, raw=raw)
        assert answer.status == 400, raw
        assert set(RATE_HEADERS) <= set(answer.headers)


async def test_400_too_many_objects_in_combined_mode(braze: BrazeCaller, sim: RunningSim) -> None:
    at_limit = {"attributes": [{"external_id": f"u{i}"} for i in range(50)],
                "events": [{"external_id": "u", "name": "e", "time": "2024-01-01"} for _ in range(25)]}  # fmt: skip
    assert (await braze.track(at_limit)).status == 201
    over = {**at_limit, "purchases": [examples.PURCHASES_EXAMPLE[0]]}
    answer = await braze.track(over)
    assert answer.status == 400
    assert "too many objects" in answer.body["message"]
    assert len(await sim.client.profiles()) == 51  # u0..u49 and u (from the events): the refused one changed nothing


async def test_per_array_mode_allows_75_in_each_array(session: aiohttp.ClientSession) -> None:
    async with running_sim(mode="per-array") as sim:
        braze = BrazeCaller(session, sim.url)
        full = {"attributes": [{"external_id": f"u{i}"} for i in range(75)],
                "events": [{"external_id": "u", "name": "e", "time": "2024-01-01"} for _ in range(75)]}  # fmt: skip
        assert (await braze.track(full)).status == 201
        answer = await braze.track({"attributes": [{"external_id": f"u{i}"} for i in range(76)]})
        assert answer.status == 400
        assert "too many objects" in answer.body["message"]


async def test_413_over_4_mb_before_the_body_is_parsed(braze: BrazeCaller, sim: RunningSim) -> None:
    big = b'{"attributes": [{"external_id": "u", "x": "' + b"a" * 4_000_000 + b'"}]}'
    answer = await braze.track(None, raw=big)
    assert answer.status == 413
    assert set(RATE_HEADERS) <= set(answer.headers)
    assert (await braze.track(None, raw=b"{" + b" " * 4_000_000 + b"oops")).status == 413
    assert await sim.client.profiles() == []


async def test_a_body_of_exactly_the_limit_is_read(session: aiohttp.ClientSession) -> None:
    async with running_sim(max_body_bytes=2000) as sim:
        braze = BrazeCaller(session, sim.url)
        body = orjson.dumps(attrs({"external_id": "u", "pad": "x"}))
        padded = body[:-1] + b" " * (2000 - len(body)) + b"}"
        assert len(padded) == 2000
        assert (await braze.track(None, raw=padded)).status == 201
        assert (await braze.track(None, raw=padded[:-1] + b" }")).status == 413


async def test_unknown_paths_and_methods(braze: BrazeCaller, session: aiohttp.ClientSession, sim: RunningSim) -> None:
    async with session.get(f"{sim.url}/users/track") as response:
        assert response.status == 405
    async with session.post(f"{sim.url}/users/trak") as response:
        assert response.status == 404
    async with session.get(f"{sim.url}/healthz") as response:
        assert response.status == 200
