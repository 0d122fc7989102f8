from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from devtools.loadgen import NO_ANSWER, post_submissions
from komo_braze.http import start_site
from tests.cli import closed_port


async def test_answers_are_counted_by_kind_and_every_body_is_posted_once() -> None:
    seen: list[int] = []
    concurrent = 0
    most_concurrent = 0

    async def intake(request: web.Request) -> web.Response:
        nonlocal concurrent, most_concurrent
        concurrent += 1
        most_concurrent = max(most_concurrent, concurrent)
        try:
            number = orjson.loads(await request.read())["n"]
            seen.append(number)
            await asyncio.sleep(0.01)
            status = 202 if number % 10 else 400 if number % 20 else 503
            return web.json_response({}, status=status)
        finally:
            concurrent -= 1

    app = web.Application()
    app.router.add_post("/v1/submissions", intake)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        report = await post_submissions(
            f"http://127.0.0.1:{port}/v1/submissions", [orjson.dumps({"n": n}) for n in range(100)], concurrency=8
        )
    finally:
        await runner.cleanup()
    assert sorted(seen) == list(range(100))
    assert (report.posted, report.accepted, report.rejected, report.failed) == (100, 90, 5, 5)
    assert most_concurrent == 8
    assert report.accepted_per_s > 0
    assert 0 < report.latency_percentile_s(0.5) <= report.latency_percentile_s(0.95)


async def test_no_answer_is_a_failure_not_a_crash() -> None:
    with closed_port() as port:
        report = await post_submissions(f"http://127.0.0.1:{port}/v1/submissions", [b"{}", b"{}"], concurrency=2)
    assert report.statuses[NO_ANSWER] == 2
    assert report.failed == 2
