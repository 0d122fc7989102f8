"""The shared Redis for the state tests: keys under a per-test prefix, deleted afterwards (a Redis to kill
or freeze is ``tests/own_redis.py``).

The shared Redis on 6379 is never stopped or reconfigured; ``KOMO_BRAZE_TEST_REDIS_URL`` points elsewhere.
"""

from __future__ import annotations

import os
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

SHARED_URL = os.environ.get("KOMO_BRAZE_TEST_REDIS_URL", "redis://localhost:6379/0")


def unique_prefix(label: str) -> str:
    return f"test-{label}-{uuid.uuid4().hex[:8]}"


async def delete_keys(client: aioredis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (what a test wrote, and nothing else)."""
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)


async def answers(url: str) -> bool:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()
