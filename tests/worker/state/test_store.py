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

from bench.bench_state import clear_store
from komo_braze.settings import load_settings
from worker.metrics import WorkerMetrics
from worker.service import batch_slots, open_store
from worker.state import StateStore, UserState
from worker.state.link import RedisLink
from worker.state.memory import MemoryState, MemoryStore
from worker.state.redis import RedisStore

Workers = Callable[..., list[StateStore]]

pytestmark = pytest.mark.timeout(30)


def pairs(seen: Mapping[str, UserState]) -> dict[str, dict[str, object]]:
    """The users' states with every (time, digest) as a tuple: Redis gives them back as JSON lists."""
    return {
        user: {name: last if isinstance(last, int) else tuple(last) for name, last in state.items()}
        for user, state in seen.items()
    }


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
    for store in made:
        await store.close()
    if request.param == "redis":
        await clear_store(redis_url, prefix)


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


async def test_thousands_of_users_and_ids_in_one_call_are_claimed_recorded_renewed_and_released(
    workers: Workers,
) -> None:
    """More than one Redis command takes at once (Lua passes a few thousand values at most): a pipeline's
    renewal covers every user of every batch under way."""
    a, b = workers(2, claim_ttl_s=0.5)
    users, ids = [f"u{n}" for n in range(2_500)], [f"s{n}" for n in range(2_500)]
    assert (await a.claim(users, ids)).users == set(users)
    await a.record(ids[::2], {user: {"team": (1, "aa")} for user in users[:1_200]}, release=[])
    for _ in range(3):
        await asyncio.sleep(0.25)
        await a.renew(users)
    claims = await b.claim(users, ids)
    assert claims.users == set()  # renewed past their first lifetime
    assert claims.accepted_ids == set(ids[::2])
    await a.release(users[1_000:])
    claims = await b.claim(users, [])
    assert claims.users == set(users[1_000:])
    assert pairs(claims.seen) == {
        user: {"team": (1, "aa")} if n < 1_200 else {} for n, user in enumerate(users) if n >= 1_000
    }


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


async def test_times_alone_and_pairs_are_kept_side_by_side(workers: Workers) -> None:
    a, b = workers(2)
    await a.record([], {"u1": {"team": 1_000, "city": (2_000, "bb")}}, release=[])
    assert pairs((await b.claim(["u1"], [])).seen) == {"u1": {"team": 1_000, "city": (2_000, "bb")}}


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
    store = RedisStore(redis_url, prefix, accepted_retention_s=60, user_retention_s=60, claim_ttl_s=5, owner="w1")
    client: Redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        await store.claim(["u1"], ["s1"])
        await store.record(["s1"], {"u1": {"team": (1, "aa")}}, release=[])
        await store.claim(["u1", "u2"], [])
        assert await store.ping()  # a write: a replica left behind the URL would refuse it
        keys = sorted(str(key) for key in await client.keys(f"{prefix}*"))
        assert await client.get(f"{prefix}:state:user:u1") == '{"team":[1,"aa"]}'
        # accepted ids in sets of half the retention each (30 s)
        accepted = [key for key in keys if key.startswith(f"{prefix}:state:accepted:30000:")]
        assert keys == sorted([*accepted, f"{prefix}:state:claims", f"{prefix}:state:probe", f"{prefix}:state:user:u1"])
        assert 0 < await client.pttl(f"{prefix}:state:probe") <= 10_000
        assert len(accepted) == 1
        assert await client.smembers(accepted[0]) == {"s1"}
        assert 60_000 < await client.pttl(accepted[0]) <= 90_000
        holders = {str(user): str(holder) for user, holder in (await client.hgetall(f"{prefix}:state:claims")).items()}
        assert sorted(holders) == ["u1", "u2"]
        assert all(holder.startswith("w1:") for holder in holders.values())
        assert 0 < await client.pttl(f"{prefix}:state:claims") <= 5_000
        await store.release(["u1", "u2"])
        assert await client.exists(f"{prefix}:state:claims") == 0
    finally:
        await store.close()
        await client.aclose()
        await clear_store(redis_url, prefix)


async def test_an_owner_token_with_a_colon_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="no ':'"):
        RedisStore(redis_url, "p", accepted_retention_s=1, user_retention_s=1, claim_ttl_s=1, owner="a:b")


async def test_the_workers_redis_store_answers_every_batch_under_way_at_once_in_few_round_trips(
    redis_url: str,
) -> None:
    """Every batch of two busy workspaces claims at once, on the worker's one connection: each gets its own
    answer, the store stays shared, and the claims made together travel together."""
    prefix = f"test-link-{uuid.uuid4().hex[:10]}"
    settings = load_settings(state_url=redis_url, prefix=prefix, braze_max_in_flight=64, state_timeout_s=10)
    link = RedisLink(redis_url, timeout_s=settings.state_timeout_s)
    store = open_store(settings, WorkerMetrics(CollectorRegistry()), link)
    try:
        calls = 2 * batch_slots(settings)
        claims = await asyncio.gather(*(store.claim([f"u{n}"], []) for n in range(calls)))
        assert [sorted(c.users) for c in claims] == [[f"u{n}"] for n in range(calls)]
        assert store.shared
        assert link.calls == calls
        assert link.round_trips <= 3  # the first call alone, the rest together (a script load, if new)
    finally:
        await store.close()
        await link.close()
        await clear_store(redis_url, prefix)
