"""The shared Redis, with this test's own key prefix; a Redis that does not answer fails the run."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.worker.state.redis_kit import SHARED_URL, answers, delete_keys, unique_prefix


@pytest.fixture
async def redis_url() -> str:
    if not await answers(SHARED_URL):
        pytest.fail(f"no Redis answers at {SHARED_URL}; run `make redis` or set KOMO_BRAZE_TEST_REDIS_URL")
    return SHARED_URL


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    return unique_prefix(re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:24])


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await delete_keys(client, key_prefix)
        await client.aclose()
