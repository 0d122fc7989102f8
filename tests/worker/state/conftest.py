"""A link to the shared Redis (``redis_url``, in ``tests/conftest.py``), as a worker has one, and the clean-up
of every key under this test's ``key_prefix`` afterwards, and nothing else. A Redis to kill or freeze is
``tests/own_redis.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.bench_state import clear_store
from worker.state.link import RedisLink


@pytest.fixture
async def redis_link(redis_url: str, key_prefix: str) -> AsyncIterator[RedisLink]:
    link = RedisLink(redis_url, timeout_s=5.0)
    try:
        yield link
    finally:
        await link.close()
        await clear_store(redis_url, key_prefix)
