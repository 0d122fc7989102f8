"""Waiting in tests for something that happens elsewhere (another task, process or server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0, interval_s: float = 0.02) -> None:
    """Return once ``condition()`` holds; raise ``TimeoutError`` if it does not within ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(interval_s)
