"""The running simulator: its configuration, state and faults, the waits of hanging requests, and
the listeners that see each answered request (the CLI's one-line log)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from braze_sim.config import SimConfig
from braze_sim.faults import Faults
from braze_sim.state import RequestRecord, SimState

RequestListener = Callable[[RequestRecord], None]


class Simulator:
    """One simulator instance; the aiohttp app keeps it under :data:`SIM_KEY`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.state = SimState(config)
        self.faults = Faults(config.faults, seed=config.seed)
        self.listeners: list[RequestListener] = []
        self.hanging = 0
        self._closing = asyncio.Event()

    def finish(self, record: RequestRecord) -> None:
        """Count an answered (or dropped) request and tell the listeners."""
        self.state.record(record)
        for listener in self.listeners:
            listener(record)

    async def hang(self, duration_s: float | None = None) -> None:
        """Wait ``duration_s`` (else ``hang_s``, an hour by default) or until the simulator shuts down,
        whichever is first."""
        self.hanging += 1
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=duration_s or self.faults.spec.hang_s)
        except TimeoutError:
            pass
        finally:
            self.hanging -= 1

    async def on_shutdown(self, _app: web.Application) -> None:
        # release hanging requests so the server's graceful shutdown does not wait for them
        self._closing.set()


SIM_KEY: web.AppKey[Simulator] = web.AppKey("braze_sim", Simulator)
