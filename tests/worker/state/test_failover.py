"""Redis slow or gone: batches wait through a slow answer, three failures mean per-process mode, and the
store returns to shared mode when Redis answers again. Each test runs a redis-server of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.own_redis import OwnRedis, own_redis
from tests.waiting import eventually
from worker.state.failover import FailoverStore
from worker.state.memory import MemoryStore
from worker.state.redis import RedisStore

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def server() -> AsyncIterator[OwnRedis]:
    async with own_redis() as running:
        yield running


def _store(server: OwnRedis, changes: list[bool]) -> FailoverStore:
    primary = RedisStore(
        server.url, "failover", accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5, timeout_s=0.2
    )
    fallback = MemoryStore(accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5)
    return FailoverStore(primary, fallback, timeout_s=0.2, on_change=changes.append, probe_interval_s=0.1)


async def test_one_slow_answer_makes_the_batch_wait_and_the_store_stays_shared(server: OwnRedis) -> None:
    changes: list[bool] = []
    store = _store(server, changes)
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
    store = _store(server, changes)
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
