"""The CLI's one line per request, cheap enough for thousands of requests a second: lines are
formatted on the request path but written in batches by one flusher task."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TextIO

from braze_sim.state import RequestRecord

FLUSH_INTERVAL_S = 0.2


def format_record(record: RequestRecord) -> str:
    """``time status workspace objects errors latency`` in logfmt; never a key, never a value."""
    clock = time.strftime("%H:%M:%S", time.gmtime(record.at)) + f".{int(record.at * 1000) % 1000:03d}Z"
    line = (
        f"{clock} status={record.status or 'dropped'} workspace={record.workspace or '-'} "
        f"attributes={record.attributes} events={record.events} purchases={record.purchases} "
        f"errors={record.errors} latency_ms={record.latency_ms:.1f}"
    )
    return f'{line} note="{record.note}"' if record.note else line


class RequestLineLog:
    """Collects formatted lines; :meth:`run` writes them to ``stream`` until cancelled, then flushes."""

    def __init__(self, stream: TextIO, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._stream = stream
        self._interval_s = flush_interval_s
        self._lines: list[str] = []

    def __call__(self, record: RequestRecord) -> None:
        self._lines.append(format_record(record))

    def flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        with contextlib.suppress(BrokenPipeError):  # a closed pipe must not stop the simulator
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                self.flush()
        finally:
            self.flush()
