"""One contract, two stores: every test runs against the in-process store and against Redis.

``workers(n)`` gives ``n`` stores sharing one state (one ``MemoryState``, or one Redis under one prefix),
each with its own owner, as ``n`` worker processes would have.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from komo_braze.settings import load_settings
from worker.metrics import WorkerMetrics
from worker.service import batch_slots, open_store
from worker.state import StateStore, UserState
from worker.state.memory import MemoryState, MemoryStore
from worker.state.redis import RedisStore

Workers = Callable[..., list[StateStore]]

pytestmark = pytest.mark.timeout(30)


def pairs(seen: Mapping[str, UserState]) -> dict[str, dict[str, tuple[object, ...]]]:
    """The users' states with every (time, digest) as a tuple: Redis gives them back as JSON lists."""
    return {user: {name: tuple(pair) for name, pair in state.items()} for user, state in seen.items()}


@pytest.fixture(params=["memory", "redis"])
async def workers(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Workers]:
    made: list[StateStore] = []
    memory = MemoryState()
    prefix = f"test-store-{uuid.uuid4().hex[:10]}"

    def make(count: int, *, claim_ttl_s: float = 5.0, retention_s: float = 60.0) -> list[StateStore]:
        for _ in range(count):
            if request.param == "memory":
                made.append(
                    MemoryStore(
                        memory, accepted_retention_s=retention_s, user_retention_s=retention_s, claim_ttl_s=claim_ttl_s
                    )
                )
            else:
                made.append(
                    RedisStore(
                        redis_url,
                        prefix,
                        accepted_retention_s=retention_s,
                        user_retention_s=retention_s,
                        claim_ttl_s=claim_ttl_s,
                    )
                )
        return made[-count:]

    yield make
    if request.param == "redis":
        cleaner = RedisStore(redis_url, prefix, accepted_retention_s=1, user_retention_s=1, claim_ttl_s=1)
        await cleaner.delete_all()
        await cleaner.close()
    for store in made:
        await store.close()


async def test_a_user_claimed_by_one_worker_is_not_claimed_by_another_until_released(workers: Workers) -> None:
    a, b = workers(2)
    assert (await a.claim(["u1", "u2"], [])).users == {"u1", "u2"}
    assert (await b.claim(["u1", "u3"], [])).users == {"u3"}
    await a.release(["u1"])
    assert (await b.claim(["u1"], [])).users == {"u1"}
    assert (await a.claim(["u1", "u2"], [])).users == {"u2"}  # its own claim on u2 still holds


async def test_a_claim_lapses_after_its_ttl_unless_renewed(workers: Workers) -> None:
    a, b = workers(2, claim_ttl_s=0.3)
    await a.claim(["dead-worker-user", "renewed-user"], [])
    for _ in range(4):
        await asyncio.sleep(0.1)
        await a.renew(["renewed-user"])
    assert (await b.claim(["dead-worker-user", "renewed-user"], [])).users == {"dead-worker-user"}


async def test_a_worker_releases_only_its_own_claims(workers: Workers) -> None:
    a, b = workers(2)
    await a.claim(["u1"], [])
    await b.release(["u1"])
    await b.record([], {}, release=["u1"])
    assert (await b.claim(["u1"], [])).users == set()


async def test_accepted_ids_recorded_by_one_worker_are_known_to_every_worker(workers: Workers) -> None:
    a, b = workers(2)
    await a.claim(["u1"], ["s1", "s2"])
    await a.record(["s1"], {}, release=["u1"])
    claims = await b.claim(["u1"], ["s1", "s2", "s3"])
    assert claims.accepted_ids == {"s1"}
    assert claims.users == {"u1"}  # record released it


async def test_accepted_ids_are_forgotten_after_their_retention(workers: Workers) -> None:
    (a,) = workers(1, retention_s=0.3)
    await a.record(["s1"], {"u1": {"team": (5, "d1")}}, release=[])
    assert (await a.claim(["u1"], ["s1"])).accepted_ids == {"s1"}
    await asyncio.sleep(0.5)
    claims = await a.claim(["u1"], ["s1"])
    assert claims.accepted_ids == set()
    assert claims.seen == {"u1": {}}


async def test_recorded_attributes_are_read_back_by_the_next_claim(workers: Workers) -> None:
    a, b = workers(2)
    await a.record([], {"u1": {"team": (1_000, "aa"), "city": (1_000, "bb")}}, release=[])
    claims = await b.claim(["u1", "u2"], [])
    assert pairs(claims.seen) == {"u1": {"team": (1_000, "aa"), "city": (1_000, "bb")}, "u2": {}}


async def test_a_record_replaces_the_users_state_as_a_whole(workers: Workers) -> None:
    (a,) = workers(1)
    await a.record([], {"u1": {"team": (1_000, "aa"), "city": (1_000, "bb")}}, release=[])
    await a.record([], {"u1": {"team": (2_000, "cc")}}, release=[])
    assert pairs((await a.claim(["u1"], [])).seen) == {"u1": {"team": (2_000, "cc")}}


async def test_a_user_claimed_elsewhere_comes_without_attributes(workers: Workers) -> None:
    a, b = workers(2)
    await a.record([], {"u1": {"team": (1_000, "aa")}}, release=[])
    await a.claim(["u1"], [])
    claims = await b.claim(["u1"], [])
    assert claims.users == set()
    assert "u1" not in claims.seen


async def test_the_redis_store_writes_only_keys_under_its_prefix(redis_url: str) -> None:
    prefix = f"test-keys-{uuid.uuid4().hex[:10]}"
    store = RedisStore(redis_url, prefix, accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5)
    client: Redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        await store.claim(["u1"], ["s1"])
        await store.record(["s1"], {"u1": {"team": (1, "aa")}}, release=[])
        await store.claim(["u1"], [])
        keys = sorted(await client.keys(f"{prefix}*"))
        assert await client.get(f"{prefix}:state:user:u1") == '{"team":[1,"aa"]}'
        assert keys == [f"{prefix}:state:accepted:s1", f"{prefix}:state:claim:u1", f"{prefix}:state:user:u1"]
        assert 0 < await client.pttl(f"{prefix}:state:accepted:s1") <= 60_000
        assert 0 < await client.pttl(f"{prefix}:state:claim:u1") <= 5_000
        assert await store.delete_all() == 3
    finally:
        await store.close()
        await client.aclose()


async def test_the_workers_redis_store_answers_every_batch_under_way_at_once(redis_url: str) -> None:
    """redis-py's pool refuses calls beyond its cap (100 by default): the worker's store is sized for its
    pipelines, else a busy worker would count refused calls as store failures and leave shared mode."""
    prefix = f"test-pool-{uuid.uuid4().hex[:10]}"
    # a slow answer on a busy machine is not the point here: a refusal by the pool is at once
    settings = load_settings(state_url=redis_url, prefix=prefix, braze_max_in_flight=64, state_timeout_s=10)
    store = open_store(settings, WorkerMetrics(CollectorRegistry()), workspaces=2)
    try:
        calls = 2 * batch_slots(settings)
        claims = await asyncio.gather(*(store.claim([f"u{n}"], []) for n in range(calls)))
        assert sum(len(c.users) for c in claims) == calls
        assert store.shared
    finally:
        await store.close()
        cleaner = RedisStore(redis_url, prefix, accepted_retention_s=1, user_retention_s=1, claim_ttl_s=1)
        await cleaner.delete_all()
        await cleaner.close()
