"""One three-node cluster of the tests' own for every test under ``tests/cluster`` (it takes some 15 s to
start). A test that stops or kills a node starts it again before it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.own_cluster import OwnCluster, own_cluster


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def cluster() -> AsyncIterator[OwnCluster]:
    async with own_cluster(management=True) as running:
        yield running
