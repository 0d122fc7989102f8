"""This test's own key prefix in the shared Redis (``redis_url``, tests/conftest.py), its keys deleted afterwards."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.broker import unique_prefix


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    return unique_prefix(re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:24])


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        async for key in client.scan_iter(match=f"{key_prefix}*", count=500):
            await client.delete(key)
        await client.aclose()
