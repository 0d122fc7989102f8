"""Waiting in tests for something that happens elsewhere (another task, process or server)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

#: a check asked again and again: a plain one, or one that must ask a server (a coroutine function)
Condition = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def eventually(
    condition: Condition, timeout_s: float = 20.0, what: str = "the condition", *, interval_s: float = 0.05
) -> None:
    """Return once ``condition()`` holds; fail the test (``AssertionError`` naming ``what``) if it does not
    within ``timeout_s``, generous because the machine running the tests may be busy."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                held = condition()
                if inspect.isawaitable(held):
                    held = await held
                if held:
                    return
                await asyncio.sleep(interval_s)
    except TimeoutError as exc:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}") from exc
