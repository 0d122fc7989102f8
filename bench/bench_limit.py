"""Shared rate limit: N worker processes against one workspace whose limit is the bottleneck.

A braze_sim with a binding ``--rate-limit`` (150 requests per 3 s by default); a backlog on the queue; N
``komo-braze worker`` processes with small request bodies (``KOMO_BRAZE_BATCH_MAX_BYTES=1024``, a few
submissions per request), so that together they could send far more than the limit. Reported per N:
requests Braze accepted per second in the full windows measured against the limit (the share used), and
the share of all requests answered 429. Each N runs with the limit shared in Redis
(``KOMO_BRAZE_STATE_URL``) and, for comparison, paced by each process alone.

    python -m bench limit [--processes 1 2 4 8] [--rate 150/3s] [--windows 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from bench.bench_state import clear_store
from bench.bench_worker import clean_up, fill
from braze_sim.testing import RunningSim, running_sim
from devtools.components import Component, component_env, start_component
from devtools.samples import SAMPLE_MAPPING, SampleFactory
from komo_braze.envelope import Envelope
from komo_braze.settings import load_settings, parse_rate

REDIS_URL = "redis://localhost:6379/0"
API_KEY = "test-key"  # braze_sim's default key


@dataclass(frozen=True, slots=True)
class LimitRun:
    """What Braze saw from N processes: full windows measured, requests accepted in them, and every
    request answered during the run with how many of them were 429s and the submissions delivered."""

    processes: int
    shared: bool
    limit: int
    window_s: float
    windows: int
    accepted: int
    requests: int
    refused: int
    submissions: int  # delivered in the whole run (one event each)
    per_window: tuple[int, ...]  # accepted in each window measured
    other_sent: int = 0  # requests of another client on the same API key (counted in ``requests``)
    other_refused: int = 0  # of those, answered 429 (counted in ``refused``)

    @property
    def used_share(self) -> float:
        return self.accepted / (self.limit * self.windows)

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / (self.windows * self.window_s)

    @property
    def refused_share(self) -> float:
        """The share of the workers' requests answered 429."""
        sent = self.requests - self.other_sent
        return (self.refused - self.other_refused) / sent if sent else 0.0

    def line(self) -> str:
        mode = "shared (Redis)" if self.shared else "per process   "
        other = f", another client {self.other_sent} ({self.other_refused} answered 429)" if self.other_sent else ""
        return (
            f"{self.processes} processes, {mode}: {self.accepted_per_s:6.1f} requests/s accepted of "
            f"{self.limit / self.window_s:.1f} allowed ({self.used_share:6.1%}), workers' 429s "
            f"{self.refused - self.other_refused}/{self.requests - self.other_sent} ({self.refused_share:.2%}); "
            f"by window {list(self.per_window)}{other}"
        )


class OtherClient:
    """Another user of the same API key: one small request every ``1 / per_s`` seconds until stopped."""

    def __init__(self, sim_url: str, per_s: float) -> None:
        self.url = sim_url + "/users/track"
        self.interval_s = 1 / per_s if per_s > 0 else 0.0
        self.stop = asyncio.Event()
        self.sent = 0
        self.refused = 0

    async def run(self) -> None:
        body = orjson.dumps({"attributes": [{"external_id": "another-client", "seen": True}]})
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as session:
            next_at = time.monotonic()
            while not self.stop.is_set():
                async with session.post(self.url, data=body) as response:
                    self.sent += 1
                    self.refused += response.status == 429
                next_at += self.interval_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), max(0.0, next_at - time.monotonic()))


async def _start_worker(
    amqp_url: str, prefix: str, sim: RunningSim, log_dir: Path, name: str, state_url: str | None
) -> Component:
    mapping = log_dir / "mapping.yaml"
    settings = {
        "amqp_url": amqp_url,
        "prefix": prefix,
        "braze_url": sim.url,
        "braze_api_key": API_KEY,
        "mapping": str(mapping),
        "worker_metrics_bind": "127.0.0.1:0",
        "batch_max_bytes": "1024",  # a few submissions per request: many requests from few messages
        "shutdown_grace_s": "1",  # the backlog is not the point: hand it back at the end
    }
    if state_url is not None:
        settings["state_url"] = state_url
    return await start_component(name, ["worker"], component_env(**settings), log_dir)


async def measure(
    amqp_url: str,
    *,
    processes: int,
    state_url: str | None,
    log_dir: Path,
    rate: str = "150/3s",
    windows: int = 5,
    count: int = 4000,
    other_share: float = 0.0,
) -> LimitRun:
    """Run one scenario on prefix of its own (deleted after, with its Redis keys) and count what Braze saw;
    with ``other_share``, another client spends that share of the limit on the same API key meanwhile."""
    limit, window_s = parse_rate(rate)
    settings = load_settings(amqp_url=amqp_url, prefix=f"bench-limit-{uuid.uuid4().hex[:8]}")
    samples = SampleFactory(seed=11, users=2000)
    workers: list[Component] = []
    (log_dir / "mapping.yaml").write_text(SAMPLE_MAPPING)
    try:
        async with running_sim(rate_limit=rate) as sim:
            await fill(settings, [Envelope.from_komo(samples.submission(n)) for n in range(count)])
            workers = list(
                await asyncio.gather(
                    *(
                        _start_worker(amqp_url, settings.prefix, sim, log_dir, f"worker-{n}", state_url)
                        for n in range(processes)
                    )
                )
            )
            # one window to warm up (connections, first batches): measured from the second full window
            first = math.floor(time.time() / window_s) + 2
            other = OtherClient(sim.url, other_share * limit / window_s)
            async with asyncio.TaskGroup() as group:
                if other_share > 0:
                    group.create_task(other.run())
                await asyncio.sleep((first + windows) * window_s - time.time() + 0.2)
                await asyncio.gather(*(w.stop() for w in workers))
                other.stop.set()
            records = list(sim.simulator.state.requests)
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
        await clean_up(None, settings)
        if state_url is not None:
            await clear_store(state_url, settings.prefix)
    in_windows = [r for r in records if first <= math.floor(r.at / window_s) < first + windows]
    return LimitRun(
        processes=processes,
        shared=state_url is not None,
        limit=limit,
        window_s=window_s,
        windows=windows,
        accepted=sum(1 for r in in_windows if 200 <= r.status < 300),
        requests=len(records),
        refused=sum(1 for r in records if r.status == 429),
        submissions=sum(r.events for r in records if 200 <= r.status < 300),
        per_window=tuple(
            sum(1 for r in in_windows if math.floor(r.at / window_s) == first + n and 200 <= r.status < 300)
            for n in range(windows)
        ),
        other_sent=other.sent,
        other_refused=other.refused,
    )


async def run(process_counts: list[int], rate: str, windows: int, other_share: float) -> int:
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="komo-braze-bench-") as directory:
        for processes in process_counts:
            for state_url in (REDIS_URL, None):
                result = await measure(
                    settings.amqp_url_str,
                    processes=processes,
                    state_url=state_url,
                    log_dir=Path(directory),
                    rate=rate,
                    windows=windows,
                    other_share=other_share,
                )
                print(result.line(), flush=True)
    print("goal with Redis, 4 processes: >= 95% of the limit used, <= 0.5% of requests answered 429")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench limit", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8], help="worker processes")
    parser.add_argument("--rate", default="150/3s", help="braze_sim's --rate-limit")
    parser.add_argument("--windows", type=int, default=5, help="full rate-limit windows measured")
    parser.add_argument("--other", type=float, default=0.0, help="share of the limit another client spends")
    options = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(options.processes, options.rate, options.windows, options.other))
    return 1
