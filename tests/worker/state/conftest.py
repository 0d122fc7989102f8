"""A client of the shared Redis (``redis_url``, in ``tests/conftest.py``) that deletes every key under this
test's ``key_prefix`` afterwards, and nothing else. A Redis to kill or freeze is ``tests/own_redis.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        async for key in client.scan_iter(match=f"{key_prefix}*", count=500):
            await client.delete(key)
        await client.aclose()
