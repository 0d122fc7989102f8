"""Hostile mode: each kind answers as a broken proxy or edge would; a seeded share of requests gets one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
import pytest

from braze_sim.hostile import FAR_RESET_EPOCH_S, HostileKind
from braze_sim.testing import RunningSim, running_sim
from tests.braze_sim.helpers import attrs

ONE = orjson.dumps(attrs({"external_id": "u1", "first_name": "Ada"}))


@dataclass
class Raw:
    status: int | None  # None: the connection closed without an answer
    headers: dict[str, str]
    body: bytes
    content_type: str


async def _post(session: aiohttp.ClientSession, sim: RunningSim, timeout_s: float = 10.0) -> Raw:
    try:
        async with session.post(
            f"{sim.url}/users/track",
            data=ONE,
            headers={"Authorization": "Bearer test-key", "Content-Type": "application/json"},
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            return Raw(response.status, dict(response.headers), await response.read(), response.content_type)
    except aiohttp.ClientConnectionError:
        return Raw(None, {}, b"", "")


async def _answer_of(session: aiohttp.ClientSession, kind: HostileKind, **faults: Any) -> tuple[Raw, int]:
    """The answer to one request when every request gets ``kind``, and the profiles stored after it."""
    async with running_sim(hostile_rate=1.0, hostile_kinds=[kind.value], **faults) as sim:
        answer = await _post(session, sim)
        return answer, len(await sim.client.profiles())


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body_start"),
    [
        (HostileKind.HTML_200, 200, "text/html", b"<!doctype html>"),
        (HostileKind.TRUNCATED_JSON, 201, "application/json", b'{"message":"success","attributes_processed":'),
        (HostileKind.JSON_ARRAY_200, 200, "application/json", b'["success"]'),
    ],
)
async def test_a_2xx_that_is_not_a_json_object_stores_nothing(
    session: aiohttp.ClientSession, kind: HostileKind, status: int, content_type: str, body_start: bytes
) -> None:
    answer, stored = await _answer_of(session, kind)
    assert (answer.status, answer.content_type) == (status, content_type)
    assert answer.body.startswith(body_start)
    assert stored == 0


@pytest.mark.parametrize(
    ("kind", "limit", "remaining", "reset"),
    [
        (HostileKind.NAN_HEADERS, "inf", "NaN", "nan"),
        (HostileKind.NEGATIVE_HEADERS, "-1", "-100", "-5"),
        (HostileKind.HUGE_HEADERS, "1e400", "9" * 30, "1e308"),
        (HostileKind.FAR_RESET, "3000", "0", str(FAR_RESET_EPOCH_S)),
    ],
)
async def test_kinds_with_unusable_rate_limit_headers_store_the_batch(
    session: aiohttp.ClientSession, kind: HostileKind, limit: str, remaining: str, reset: str
) -> None:
    answer, stored = await _answer_of(session, kind)
    assert answer.status == 201
    assert orjson.loads(answer.body)["message"] == "success"
    assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == (limit, remaining)
    assert answer.headers["X-RateLimit-Reset"] == reset
    assert stored == 1


async def test_a_reset_in_milliseconds_is_a_thousand_times_the_window_end(session: aiohttp.ClientSession) -> None:
    answer, stored = await _answer_of(session, HostileKind.MS_RESET)
    reset_ms = int(answer.headers["X-RateLimit-Reset"])
    assert 0 < reset_ms / 1000 - time.time() <= 3.0
    assert (answer.status, answer.headers["X-RateLimit-Remaining"], stored) == (201, "0", 1)


@pytest.mark.parametrize(
    ("kind", "retry_after"),
    [
        (HostileKind.STORM_429, None),
        (HostileKind.RETRY_AFTER_NEGATIVE, "-5"),
        (HostileKind.RETRY_AFTER_HUGE, "99999999999"),
        (HostileKind.RETRY_AFTER_GARBAGE, "soon"),
        (HostileKind.FAR_RESET_429, None),
    ],
)
async def test_429_kinds_carry_the_retry_after_they_name(
    session: aiohttp.ClientSession, kind: HostileKind, retry_after: str | None
) -> None:
    answer, stored = await _answer_of(session, kind)
    assert (answer.status, answer.headers.get("Retry-After"), stored) == (429, retry_after, 0)


async def test_an_http_date_retry_after_points_two_seconds_ahead(session: aiohttp.ClientSession) -> None:
    answer, stored = await _answer_of(session, HostileKind.RETRY_AFTER_DATE)
    ahead_s = parsedate_to_datetime(answer.headers["Retry-After"]).timestamp() - time.time()
    assert (answer.status, stored) == (429, 0)
    assert 0.5 <= ahead_s <= 2.5  # HTTP dates have whole seconds


async def test_a_redirect_points_to_another_origin_and_stores_nothing(session: aiohttp.ClientSession) -> None:
    answer, stored = await _answer_of(session, HostileKind.REDIRECT, redirect_to="http://127.0.0.2:1234/users/track")
    assert (answer.status, answer.headers["Location"], stored) == (307, "http://127.0.0.2:1234/users/track", 0)


async def test_a_reset_closes_the_connection_and_a_hang_does_after_its_time(session: aiohttp.ClientSession) -> None:
    answer, stored = await _answer_of(session, HostileKind.RESET)
    assert (answer.status, stored) == (None, 0)
    started = time.perf_counter()
    answer, stored = await _answer_of(session, HostileKind.HANG, hostile_hang_s=0.5)
    assert (answer.status, stored) == (None, 0)
    assert time.perf_counter() - started >= 0.5


async def test_a_5xx_kind_is_an_html_page_without_rate_limit_headers(session: aiohttp.ClientSession) -> None:
    answer, stored = await _answer_of(session, HostileKind.ERROR_5XX)
    assert answer.status in (500, 502, 503, 504)
    assert (answer.content_type, "X-RateLimit-Remaining" in answer.headers, stored) == ("text/html", False, 0)


async def test_a_seeded_mix_answers_a_share_normally_and_repeats_with_the_seed(session: aiohttp.ClientSession) -> None:
    async def statuses() -> list[int | None]:
        kinds = ["html_200", "429", "5xx", "nan_headers"]
        async with running_sim(hostile_rate=0.5, hostile_kinds=kinds, seed=11) as sim:
            return [(await _post(session, sim)).status for _ in range(80)]

    first, second = await statuses(), await statuses()
    assert first == second
    assert 20 <= first.count(201) <= 60  # the normal half, and nan_headers (applied, 201)
    assert {200, 429} <= set(first)
    assert set(first) - {200, 201, 429} <= {500, 502, 503, 504}


async def test_hostile_mode_is_set_at_run_time_and_cleared(sim: RunningSim, session: aiohttp.ClientSession) -> None:
    described = await sim.client.set_faults(hostile_rate=1.0, hostile_kinds=["html_200"])
    assert (described["hostile_rate"], described["hostile_kinds"]) == (1.0, ["html_200"])
    assert (await _post(session, sim)).status == 200
    await sim.client.set_faults(clear=True)
    assert (await _post(session, sim)).status == 201
    notes = [entry["note"] for entry in await sim.client.requests()]
    assert notes == ["", "hostile html_200"]


async def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hostile kind 'teapot'"):
        async with running_sim(hostile_rate=1.0, hostile_kinds=["teapot"]):
            pass
