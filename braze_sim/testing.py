"""Start a simulator in-process for a test or a benchmark::

async with running_sim(rate_limit="5/1s", error_rate=0.5) as sim:
    ...  # POST to f"{sim.url}/users/track" with "Authorization: Bearer test-key"
    assert (await sim.client.stats())["by_status"]["201"] == 1
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from braze_sim.app import create_app
from braze_sim.client import SimClient
from braze_sim.config import FaultSpec, ObjectLimitMode, SimConfig
from braze_sim.simulator import SIM_KEY, Simulator
from komo_braze.http import start_site


@dataclass(frozen=True, slots=True)
class RunningSim:
    url: str  # base URL, no trailing slash
    client: SimClient
    config: SimConfig
    simulator: Simulator  # direct access for assertions that the admin endpoints do not cover


@asynccontextmanager
async def running_sim(
    *,
    api_keys: Sequence[str] = ("test-key",),
    rate_limit: str = "3000/3s",
    mode: str = "combined",
    host: str = "127.0.0.1",
    seed: int | None = None,
    max_body_bytes: int | None = None,
    **faults: Any,
) -> AsyncIterator[RunningSim]:
    """A simulator on ``host``, on a free port, for the duration of the block.

    ``faults`` are names of :class:`braze_sim.config.FaultSpec` (``error_rate``, ``hang_rate``, ...).
    """
    options: dict[str, Any] = {"rate_limit": rate_limit, "mode": ObjectLimitMode(mode), "seed": seed}
    if max_body_bytes is not None:
        options["max_body_bytes"] = max_body_bytes
    config = SimConfig.from_keys(api_keys, faults=FaultSpec.from_mapping(faults), **options)
    app = create_app(config)
    runner, port = await start_site(app, host, 0)
    url = f"http://{host}:{port}"
    client = SimClient(url)
    try:
        yield RunningSim(url=url, client=client, config=config, simulator=app[SIM_KEY])
    finally:
        await client.close()
        await runner.cleanup()
