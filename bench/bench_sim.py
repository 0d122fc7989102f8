"""How many ``/users/track`` requests of 75 objects one simulator process answers per second.

The simulator runs as ``komo-braze braze-sim`` in a subprocess pinned to core 0 (``taskset``, when
available), with its one-line request log on (written to a file); the load generator runs here, pinned to
the other core, over keep-alive HTTP/1.1 connections. The baseline is a bare aiohttp app in the same
setting that answers 201 without reading the body: the ratio says how much of the HTTP stack's ceiling
the simulator keeps. Target: at least 2,000 requests/s.

With ``--gc-compare`` each round also measures a simulator started with ``KOMO_BRAZE_GC_TUNING=false``
(:mod:`komo_braze.gc_tuning`): what the tuning buys, per CPU-second, in the same run.

    python -m bench sim                      # defaults
    python -m bench sim --gc-compare
    python -m bench.bench_sim --seconds 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from braze_sim.client import SimClient
from devtools.components import KOMO_BRAZE

TARGET_RPS = 2000
API_KEY = "bench-key"


def make_bodies(count: int, users: int, seed: int = 7) -> list[bytes]:
    """Request bodies as the worker sends them: per submission one attribute object (the example
    mapping: eleven keys with the identifier) and its event, 38 submissions less one event: 75 objects.

    Values differ from object to object (a pool of ``users``), so that caches meet what they would meet.
    """
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        attributes, events = [], []
        for submission in range(38):
            user = rng.randrange(users)
            attributes.append(
                {
                    "external_id": f"user-{user}",
                    "first_name": rng.choice(["Ada", "Grace", "Linus", "Barbara"]),
                    "last_name": rng.choice(["Lovelace", "Hopper", "Torvalds", "Liskov"]),
                    "email": f"user{user}@example.com",
                    "dob": f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                    "country": rng.choice(["AU", "NZ", "GB"]),
                    "email_subscribe": "opted_in",
                    "komo_interests": {"add": [rng.choice(["footy", "cricket", "netball"])]},
                    "favourite_team": rng.choice(["Swans", "Magpies", "Lions"]),
                    "komo_last_score": rng.randrange(100),
                    "komo_source": "komo",
                }
            )
            if submission < 37:
                events.append(
                    {
                        "external_id": f"user-{user}",
                        "name": "komo_form_submitted",
                        "time": "2026-11-29T04:30:00Z",
                        "properties": {
                            "site_id": "hub-1",
                            "card_id": f"card-{rng.randrange(20)}",
                            "card_type": "form",
                            "submission_id": f"s-{rng.randrange(10**9)}",
                        },
                    }
                )
        bodies.append(orjson.dumps({"attributes": attributes, "events": events}))
    return bodies


def _request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST /users/track HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, requests: list[bytes], deadline: float, latencies: list[float], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = random.randrange(len(requests))
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            index += 1
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await asyncio.wait_for(reader.readexactly(length), timeout=30)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


@dataclass
class Result:
    rps: float
    latencies: list[float]
    statuses: dict[int, int]
    server_cpu_share: float | None  # CPU seconds the server used per second of the run

    @property
    def rps_per_core(self) -> float | None:
        """Requests per CPU-second of the server: what it answers with a core to itself."""
        return self.rps / self.server_cpu_share if self.server_cpu_share else None


async def load(port: int, bodies: list[bytes], seconds: float, connections: int, server_pid: int) -> Result:
    """Requests/s over ``seconds`` (after a one-second warm-up), latencies, statuses, server CPU."""
    requests = [_request_bytes(port, body) for body in bodies]
    warm: list[float] = []
    await asyncio.gather(
        *(_connection(port, requests, time.perf_counter() + 1.0, warm, {}) for _ in range(connections))
    )
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cpu_before = cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, requests, started + seconds, latencies, statuses) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(server_pid)
    share = (cpu_after - cpu_before) / elapsed if cpu_before is not None and cpu_after is not None else None
    return Result(len(latencies) / elapsed, latencies, statuses, share)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin_self(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        os.sched_setaffinity(0, {core})


def _start(argv: list[str], out: Path) -> tuple[subprocess.Popen[bytes], int]:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []
    handle = out.open("wb")
    process = subprocess.Popen([*pin, *argv], stdout=handle, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        first = out.read_bytes().split(b"\n", 1)[0]
        if first.startswith(b"braze-sim listening on http://") or first.startswith(b"baseline listening on"):
            return process, int(first.rsplit(b":", 1)[1])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not start: {out.read_text(errors='replace')[:500]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def serve_baseline() -> int:
    """A bare aiohttp app answering 201 to every POST /users/track without reading the body."""
    from aiohttp import web

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=201, body=b'{"message":"success"}', content_type="application/json")

    async def main() -> None:
        from komo_braze.http import start_site

        app = web.Application(client_max_size=4_000_001)
        app.router.add_post("/users/track", handler)
        runner, port = await start_site(app, "127.0.0.1", 0)
        print(f"baseline listening on http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    return 0


def _report(name: str, result: Result) -> None:
    cuts = statistics.quantiles(result.latencies, n=100) if len(result.latencies) > 100 else [0.0] * 99
    cpu = f"server CPU {result.server_cpu_share:4.0%}" if result.server_cpu_share is not None else ""
    per_core = f"= {result.rps_per_core:6.0f} per CPU-second" if result.rps_per_core else ""
    print(
        f"{name:<9} {result.rps:7.0f} requests/s ({result.rps * 75:7.0f} objects/s)  {cpu} {per_core}  "
        f"p50 {cuts[49] * 1000:5.1f} ms  p99 {cuts[98] * 1000:5.1f} ms  statuses {result.statuses}",
        flush=True,
    )


async def _rejected_objects(port: int) -> dict[str, int]:
    """Objects the simulator rejected (none should be: every bench object is valid and fully applied)."""
    async with SimClient(f"http://127.0.0.1:{port}") as client:
        stats = await client.stats()
    return {array: count for array, count in stats["rejected_objects"].items() if count}


def _best(results: list[Result]) -> Result:
    return max(results, key=lambda r: r.rps_per_core or r.rps)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_sim")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per round and server")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (baseline then simulator); the best counts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--gc-compare", action="store_true", help="also measure a simulator without GC tuning")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        return serve_baseline()
    _pin_self(1)
    bodies = make_bodies(200, args.users)
    servers = {
        "baseline": [sys.executable, "-m", "bench.bench_sim", "--serve-baseline"],
        "braze-sim": [*KOMO_BRAZE, "braze-sim", "--bind", "127.0.0.1:0",
                      "--api-key", API_KEY, "--rate-limit", "100000000/1s"],
    }  # fmt: skip
    if args.gc_compare:
        servers["sim-no-gc"] = ["env", "KOMO_BRAZE_GC_TUNING=false", *servers["braze-sim"]]
    results: dict[str, list[Result]] = {name: [] for name in servers}
    log_lines = 0
    rejected: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _round in range(args.rounds):
            for name, command in servers.items():
                out = Path(tmp) / f"{name}.out"
                process, port = _start(command, out)
                try:
                    result = asyncio.run(load(port, bodies, args.seconds, args.connections, process.pid))
                    if name == "braze-sim":
                        rejected = asyncio.run(_rejected_objects(port))
                finally:
                    _stop(process)
                _report(name, result)
                results[name].append(result)
                if name == "braze-sim":
                    log_lines = out.read_text().count("status=201")
    if rejected:
        print(f"FAIL: the simulator rejected bench objects {rejected}: it did less than the real work", file=sys.stderr)
        return 1
    sim, baseline = _best(results["braze-sim"]), _best(results["baseline"])
    ratio = (sim.rps_per_core or sim.rps) / (baseline.rps_per_core or baseline.rps)
    print(f"best of {args.rounds}: braze-sim {sim.rps:.0f} requests/s, {sim.rps_per_core or 0:.0f} per CPU-second; "
          f"baseline {baseline.rps_per_core or 0:.0f} per CPU-second; ratio {ratio:.3f}; "
          f"request-log lines in the last round: {log_lines}")  # fmt: skip
    if args.gc_compare:
        untuned = _best(results["sim-no-gc"])
        gain = (sim.rps_per_core or sim.rps) / (untuned.rps_per_core or untuned.rps)
        print(f"braze-sim with / without GC tuning, per CPU-second, best of {args.rounds}: {gain:.3f}")
    if any(set(r.statuses) != {201} for r in results["braze-sim"]):
        print("FAIL: every bench request should be answered 201", file=sys.stderr)
        return 1
    # on a shared machine the simulator rarely has its core to itself: judge it by what it answers per
    # CPU-second it got (the wall-clock rates are printed above)
    capacity = sim.rps_per_core or sim.rps
    if capacity < TARGET_RPS:
        print(f"FAIL: {capacity:.0f} requests per CPU-second is under the target of {TARGET_RPS}", file=sys.stderr)
        return 1
    print(f"ok: {capacity:.0f} requests of 75 objects per CPU-second (target {TARGET_RPS})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
