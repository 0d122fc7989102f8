"""The worker's link to Redis against a real Redis: calls made together share a round trip and each gets its
own answer; an unknown script is loaded, an error answer fails its call alone, and a killed, frozen or
restarted Redis fails the calls on their way and no later one; a write a failover's demoted primary refuses
is sent again to whichever server the URL names now."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.own_redis import OwnRedis, fail_over, own_redis, own_sentinel
from tests.proxy import TcpProxy
from worker.state.link import RedisLink

pytestmark = pytest.mark.timeout(30)

ECHO = "return ARGV[1]"
WRITE = "redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]"


@asynccontextmanager
async def linked_to_own_redis(timeout_s: float) -> AsyncIterator[tuple[OwnRedis, RedisLink]]:
    """A redis-server of the test's own (to kill, freeze or flush) and a link to it."""
    async with own_redis() as server:
        link = RedisLink(server.url, timeout_s=timeout_s)
        try:
            yield server, link
        finally:
            await link.close()


async def test_calls_made_together_share_one_round_trip_and_each_gets_its_own_answer(redis_link: RedisLink) -> None:
    echo = redis_link.script(ECHO)
    assert await echo(args=["first"]) == b"first"  # loads the script if this Redis does not know it yet
    before = redis_link.round_trips
    answers = await asyncio.gather(*(echo(args=[f"a{n}"]) for n in range(200)))
    assert answers == [f"a{n}".encode() for n in range(200)]
    # the sender starts at the loop's next turn, when all 200 are queued
    assert redis_link.round_trips - before == 1
    first = asyncio.create_task(echo(args=["on its way"]))
    await asyncio.sleep(0)  # the first is sent; those asked while it is on its way go together after it
    answers = await asyncio.gather(*(echo(args=[f"b{n}"]) for n in range(50)))
    assert (await first, answers) == (b"on its way", [f"b{n}".encode() for n in range(50)])
    assert redis_link.round_trips - before == 3


async def test_calls_asked_one_after_another_go_one_by_one(redis_link: RedisLink) -> None:
    """No call waits for others to join it: a lone call is sent at once."""
    assert await redis_link.execute("PING") == b"PONG"
    before = redis_link.round_trips
    for _ in range(5):
        assert await redis_link.execute("PING") == b"PONG"
    assert redis_link.round_trips - before == 5


async def test_an_error_answer_fails_its_own_call_only(redis_link: RedisLink, key_prefix: str) -> None:
    echo, broken = redis_link.script(ECHO), redis_link.script("return redis.error_reply('refused here')")
    await echo(args=["load"])
    with pytest.raises(ResponseError):
        await broken()  # loads it, then fails
    answers = await asyncio.gather(
        echo(args=["before"]), broken(), echo(args=["after"]), redis_link.execute("PING"), return_exceptions=True
    )
    assert answers[0] == b"before"
    assert isinstance(answers[1], ResponseError)
    assert "refused here" in str(answers[1])
    assert answers[2:] == [b"after", b"PONG"]


async def test_a_script_redis_forgot_is_loaded_again_and_its_calls_answered() -> None:
    async with linked_to_own_redis(2.0) as (server, link):
        echo = link.script(ECHO)
        assert await echo(args=["one"]) == b"one"
        assert await link.execute("SCRIPT", "FLUSH") == b"OK"
        answers = await asyncio.gather(*(echo(args=[str(n)]) for n in range(10)))
        assert answers == [str(n).encode() for n in range(10)]
        await server.kill()
        await server.start()  # a restarted Redis knows no script: loaded again
        assert await echo(args=["two"]) == b"two"


async def test_a_killed_redis_fails_the_calls_on_their_way_and_the_link_reconnects() -> None:
    async with linked_to_own_redis(1.0) as (server, link):
        assert await link.execute("PING") == b"PONG"
        await server.kill()
        answers = await asyncio.gather(*(link.execute("PING") for _ in range(3)), return_exceptions=True)
        assert all(isinstance(a, RedisConnectionError) for a in answers), answers
        await server.start()
        assert await link.execute("PING") == b"PONG"


async def test_a_write_a_demoted_primary_refuses_goes_once_more_to_the_server_the_url_names_now() -> None:
    """A failover behind one name (a managed Redis's endpoint, Sentinel behind a proxy): the link's connection
    still reaches the old primary, now a replica that answers ``PING`` and refuses writes. The refused call is
    sent again on a new connection, which reaches the new primary; where the name still reaches the old one,
    it fails after that one more try, and the call after it is tried afresh."""
    async with own_redis() as first, own_redis() as second, TcpProxy("127.0.0.1", first.port) as name:
        link = RedisLink(name.url_for(first.url), timeout_s=2.0)
        write = link.script(WRITE)
        try:
            assert await write(["k"], ["before"]) == b"before"
            await fail_over(first, second)
            with pytest.raises(ReadOnlyError):
                await write(["k"], ["refused twice"])  # the name has not moved yet: once more, then failed
            name.target_port = second.port  # the name moves to the new primary
            answers = await asyncio.gather(write(["k"], ["after"]), link.execute("PING"))
            assert answers == [b"after", b"PONG"]
            check: Redis = Redis(host="127.0.0.1", port=second.port)
            try:
                assert await check.get("k") == b"after"
            finally:
                await check.aclose()
        finally:
            await link.close()


async def test_sentinels_that_ask_for_a_password_get_the_url_s_sentinel_password() -> None:
    async with own_redis() as primary, own_sentinel(primary, "komo-state", password="s3cret") as port:
        given = RedisLink(f"redis+sentinel://127.0.0.1:{port}/komo-state?sentinel_password=s3cret", timeout_s=2.0)
        missing = RedisLink(f"redis+sentinel://127.0.0.1:{port}/komo-state", timeout_s=2.0)
        try:
            assert await given.execute("PING") == b"PONG"
            with pytest.raises(RedisConnectionError):  # the sentinel refuses to say where the primary is
                await missing.execute("PING")
        finally:
            await given.close()
            await missing.close()


async def test_a_caller_that_stops_waiting_leaves_the_others_their_own_answers() -> None:
    """A frozen Redis: one caller gives up (its own timeout); when Redis answers again, its answer is read
    and dropped, and the next call gets its own answer, not the abandoned one."""
    async with linked_to_own_redis(5.0) as (server, link):
        echo = link.script(ECHO)
        assert await echo(args=["load"]) == b"load"
        server.freeze()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await echo(args=["abandoned"])
        later = asyncio.create_task(echo(args=["later"]))
        await asyncio.sleep(0.1)
        server.thaw()
        assert await later == b"later"
        assert await echo(args=["next"]) == b"next"


async def test_a_frozen_redis_fails_the_round_trip_within_the_links_timeout_and_the_next_one_reconnects() -> None:
    async with linked_to_own_redis(0.5) as (server, link):
        assert await link.execute("PING") == b"PONG"
        server.freeze()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisTimeoutError):
            await link.execute("PING")
        assert 0.5 <= loop.time() - started < 1.5
        server.thaw()
        assert await link.execute("PING") == b"PONG"


async def test_closing_the_link_fails_what_waits_and_refuses_new_calls() -> None:
    async with own_redis() as server:
        link = RedisLink(server.url, timeout_s=5.0)
        assert await link.execute("PING") == b"PONG"
        server.freeze()
        waiting = asyncio.create_task(link.execute("PING"))
        await asyncio.sleep(0.1)
        await link.close()
        server.thaw()
        with pytest.raises(RedisConnectionError):
            await waiting
        with pytest.raises(RedisConnectionError):
            await link.execute("PING")


async def test_calls_submitted_before_the_caller_waits_go_in_one_round_trip(redis_link: RedisLink) -> None:
    """A batch's claim and its request's slot: submitted together, answered from one write."""
    echo = redis_link.script(ECHO)
    await echo(args=["load"])
    before = redis_link.round_trips
    slot = echo.submit(args=["slot"])
    assert await echo(args=["claim"]) == b"claim"
    assert slot.done()
    assert await slot == b"slot"
    assert redis_link.round_trips - before == 1
