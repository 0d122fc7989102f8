"""Fixtures: a simulator on a free port (``sim``) and a real HTTP client to talk to it (``braze``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from braze_sim.testing import RunningSim, running_sim
from tests.braze_sim.helpers import BrazeCaller


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with running_sim() as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def braze(session: aiohttp.ClientSession, sim: RunningSim) -> BrazeCaller:
    return BrazeCaller(session, sim.url)
