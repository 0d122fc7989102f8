"""Redis slow or gone: batches wait through a slow answer, three failures mean per-process mode, and the
store returns to shared mode when Redis answers again; a failover behind the store's URL is followed, and a
demoted primary left behind it is not taken for a store that is back. Each test runs redis-servers of its
own."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from tests.own_redis import OwnRedis, fail_over, own_redis, own_sentinel, replicate
from tests.proxy import TcpProxy
from tests.waiting import eventually
from worker.state.failover import FailoverStore
from worker.state.memory import MemoryStore
from worker.state.redis import RedisStore

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def server() -> AsyncIterator[OwnRedis]:
    async with own_redis() as running:
        yield running


def _store(url: str, changes: list[bool]) -> FailoverStore:
    primary = RedisStore(url, "failover", accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5, timeout_s=0.2)
    fallback = MemoryStore(accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5)
    return FailoverStore(primary, fallback, timeout_s=0.2, on_change=changes.append, probe_interval_s=0.1)


async def test_one_slow_answer_makes_the_batch_wait_and_the_store_stays_shared(server: OwnRedis) -> None:
    changes: list[bool] = []
    store = _store(server.url, changes)
    admin: Redis = Redis.from_url(server.url)
    try:
        await admin.client_pause(600)  # every command of every client waits 600 ms: a slow Redis
        slow = await store.claim(["u1"], ["s1"])
        assert (slow.users, slow.accepted_ids, store.shared) == (frozenset(), frozenset(), True)
        await asyncio.sleep(0.6)
        assert (await store.claim(["u1"], [])).users == {"u1"}
        assert changes == [True]
    finally:
        await admin.aclose()
        await store.close()


async def test_three_failures_mean_per_process_mode_until_redis_answers_again(server: OwnRedis) -> None:
    changes: list[bool] = []
    store = _store(server.url, changes)
    watcher = asyncio.create_task(store.watch())
    try:
        await server.kill()
        for _ in range(2):
            assert (await store.claim(["u1"], [])).users == set()  # waiting, not yet per-process
        assert store.shared
        assert (await store.claim(["u1"], [])).users == {"u1"}  # the third failure: per-process mode
        assert changes == [True, False]
        await store.record(["s1"], {}, release=["u1"])
        assert (await store.claim(["u2"], ["s1"])).accepted_ids == {"s1"}  # remembered in this process
        await server.start()
        await eventually(lambda: store.shared, timeout_s=10)
        assert changes == [True, False, True]
        claims = await store.claim(["u3"], ["s1"])
        assert claims.users == {"u3"}
        assert claims.accepted_ids == {"s1"}  # accepted while Redis was down: Redis never heard of it
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await store.close()


async def test_a_failover_behind_the_store_s_url_is_followed_and_a_demoted_primary_is_not_taken_for_redis() -> None:
    """The URL names an endpoint that a failover moves (a managed Redis's, or a proxy that follows Sentinel).
    While it still reaches the old primary, now a replica, the store goes per-process and stays so (the old
    primary answers ``PING``, so the probe writes); once the endpoint reaches the new primary, the store is
    shared again, and a failover the endpoint follows at once costs not even that."""
    changes: list[bool] = []
    async with own_redis() as first, own_redis() as second, TcpProxy("127.0.0.1", first.port) as endpoint:
        store = _store(endpoint.url_for(first.url), changes)
        watcher = asyncio.create_task(store.watch())
        try:
            assert (await store.claim(["u1"], [])).users == {"u1"}
            await fail_over(first, second)  # the endpoint does not follow yet
            for _ in range(3):
                await store.claim(["u2"], [])
            assert changes == [True, False]
            await asyncio.sleep(0.5)  # five probes: each reaches the demoted primary, which refuses the write
            assert changes == [True, False]
            endpoint.target_port = second.port
            await eventually(lambda: store.shared, timeout_s=10)
            assert changes == [True, False, True]
            await fail_over(second, first)  # back to the first, and the endpoint follows at once
            endpoint.target_port = first.port
            assert (await store.claim(["u3"], [])).users == {"u3"}
            assert changes == [True, False, True]  # the refused call went again to the new primary
            check: Redis = Redis(host="127.0.0.1", port=first.port)
            try:
                assert await check.hexists("failover:state:claims", "u3")
            finally:
                await check.aclose()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await store.close()


async def test_a_full_redis_that_refuses_writes_means_per_process_mode_until_it_has_room(server: OwnRedis) -> None:
    """``maxmemory`` reached under ``noeviction`` (the policy README asks for): every script that writes is
    refused (``OOM``). The store goes per-process, the probe's write keeps it so, and it is shared again once
    Redis has room; nothing was accepted in Redis's name meanwhile."""
    changes: list[bool] = []
    store = _store(server.url, changes)
    admin: Redis = Redis.from_url(server.url)
    watcher = asyncio.create_task(store.watch())
    try:
        assert (await store.claim(["u1"], [])).users == {"u1"}
        used = int((await admin.info("memory"))["used_memory"])
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", str(used // 2))  # full from now on, whatever else it frees
        with pytest.raises(OutOfMemoryError):
            await admin.set("filler", "x" * 100_000)
        for _ in range(3):
            await store.claim(["u2"], [])
        assert changes == [True, False]
        await store.record(["s1"], {}, release=["u2"])  # per-process: remembered here
        await asyncio.sleep(0.5)  # five probes, each a write Redis refuses
        assert changes == [True, False]
        await admin.config_set("maxmemory", "0")
        await eventually(lambda: store.shared, timeout_s=10)
        assert changes == [True, False, True]
        claims = await store.claim(["u2"], ["s1"])
        assert (claims.users, claims.accepted_ids) == ({"u2"}, {"s1"})
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await admin.aclose()
        await store.close()


async def test_through_sentinel_the_stores_of_two_workers_follow_the_primary_sentinel_names() -> None:
    """``redis+sentinel://``: the primary is killed, Sentinel promotes its replica, and both workers' stores
    write there, shared again, without a new URL: a user one of them claims there is refused to the other."""
    changes: dict[str, list[bool]] = {"a": [], "b": []}
    async with own_redis() as first, own_redis() as second:
        await replicate(second, first)
        async with own_sentinel(first, "komo-state") as sentinel:
            url = f"redis+sentinel://127.0.0.1:{sentinel}/komo-state/0"
            a, b = _store(url, changes["a"]), _store(url, changes["b"])
            watchers = [asyncio.create_task(store.watch()) for store in (a, b)]
            check: Redis = Redis(host="127.0.0.1", port=second.port)
            try:
                assert (await a.claim(["u1"], [])).users == {"u1"}
                await eventually(lambda: check.hexists("failover:state:claims", "u1"), what="u1's claim replicated")
                await first.kill()

                async def claimed_on_the_new_primary() -> bool:
                    await a.claim(["u2"], [])  # waits, or goes per-process, until Sentinel has promoted
                    return a.shared and bool(await check.hexists("failover:state:claims", "u2"))

                await eventually(claimed_on_the_new_primary, timeout_s=20, what="a claim on the promoted replica")
                assert (await check.role())[0] == b"master"

                tries = itertools.count()

                async def b_refused_what_a_holds() -> bool:  # b reaches the same primary and sees a's claims
                    held, free = f"held-{next(tries)}", f"free-{next(tries)}"
                    assert (await a.claim([held], [])).users == {held}
                    return b.shared and (await b.claim([held, free], [])).users == {free}

                await eventually(b_refused_what_a_holds, timeout_s=20, what="the second worker on the new primary")
                assert changes["a"][-1] is True  # shared again (it may have gone per-process meanwhile)
                assert changes["b"][-1] is True
            finally:
                for watcher in watchers:
                    watcher.cancel()
                await asyncio.gather(*watchers, return_exceptions=True)
                await check.aclose()
                await a.close()
                await b.close()
