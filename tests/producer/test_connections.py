"""Slow and surplus clients on real sockets: the header deadline and the connection cap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from devtools.components import component_env, start_component
from tests.broker import BrokerKit
from tests.producer.conftest import Intake, StartIntake
from tests.producer.slow_clients import BODY, HEAD, RawClient, body_flood, request
from tests.waiting import eventually


def metric(metrics: str, sample: str) -> float:
    return next(
        float(line.removeprefix(sample + " ")) for line in metrics.splitlines() if line.startswith(sample + " ")
    )


def closed_count(metrics: str, reason: str) -> float:
    return metric(metrics, f'komo_braze_producer_connections_closed_total{{reason="{reason}"}}')


def port_of(intake: Intake) -> int:
    assert intake.producer.port is not None
    return intake.producer.port


async def test_headers_trickled_a_byte_at_a_time_get_a_408_and_are_closed_at_the_deadline(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake(producer_header_timeout_s=0.5) as intake:
        client = await RawClient.connect(port_of(intake))
        started = time.monotonic()
        trickling = asyncio.create_task(client.trickle(request(), interval_s=0.2))  # would take 80 s
        answer = await client.answer_and_close(timeout_s=15)
        elapsed_s = time.monotonic() - started
        await trickling
        client.close()
        metrics = await intake.metrics_text()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert 0.5 <= elapsed_s < 10.0  # the deadline, give or take a busy machine; the client would take 80 s
    assert closed_count(metrics, "header_timeout") == 1
    assert await broker.count(broker.names.work_queue()) == 0


async def test_headers_stopped_half_way_get_a_408_and_a_silent_connection_is_just_closed(
    start_intake: StartIntake,
) -> None:
    async with start_intake(producer_header_timeout_s=0.5) as intake:
        half, silent = await RawClient.connect(port_of(intake)), await RawClient.connect(port_of(intake))
        await half.send(HEAD[: len(HEAD) // 2])
        answers = await asyncio.gather(half.answer_and_close(10), silent.answer_and_close(10))
        half.close()
        silent.close()
        metrics = await intake.metrics_text()
    assert answers[0].startswith(b"HTTP/1.1 408 ")
    assert answers[1] == b""
    assert (closed_count(metrics, "header_timeout"), closed_count(metrics, "idle")) == (1, 1)


async def test_a_kept_alive_connection_must_send_its_next_headers_in_time_too(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake(producer_header_timeout_s=0.5) as intake:
        client = await RawClient.connect(port_of(intake))
        await client.send(request())
        first = await client.one_response()
        trickling = asyncio.create_task(client.trickle(request(), interval_s=0.2))
        rest = await client.answer_and_close(timeout_s=10)
        await trickling
        client.close()
    assert first.startswith(b"HTTP/1.1 202 ")
    assert rest.startswith(b"HTTP/1.1 408 ")
    assert await broker.count(broker.names.work_queue()) == 1


async def test_over_the_cap_the_connection_waiting_longest_for_headers_makes_room_for_a_normal_client(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    async with start_intake(producer_header_timeout_s=60.0, producer_max_connections=20) as intake:
        port = port_of(intake)
        slow = [await RawClient.connect(port) for _ in range(30)]  # 10 over the cap
        for client in slow:
            await client.send(HEAD[:20])
        async with intake.post(BODY) as response:  # one more: a normal client
            assert response.status == 202
        evicted = await asyncio.gather(*(client.answer_and_close(10) for client in slow[:11]))
        metrics = await intake.metrics_text()
        assert intake.producer.connections.open_connections <= 20
        for client in slow:
            client.close()
    assert evicted == [b""] * 11  # the eleven that waited longest, closed without a word
    assert closed_count(metrics, "evicted") == 11
    assert await broker.count(broker.names.work_queue()) == 1


async def test_when_every_slot_is_inside_a_request_a_newcomer_gets_a_503_at_once(start_intake: StartIntake) -> None:
    async with start_intake(producer_max_connections=3, producer_body_timeout_s=60.0) as intake:
        port = port_of(intake)
        sending = [await RawClient.connect(port) for _ in range(3)]
        for client in sending:  # headers complete, body never finished: inside a request
            await client.send(HEAD + b"Content-Length: 100000\r\n\r\n" + b"{")
        guard = intake.producer.connections
        await eventually(lambda: (guard.open_connections, guard.waiting_for_headers) == (3, 0))  # all inside
        newcomer = await RawClient.connect(port)
        answer = await newcomer.answer_and_close(timeout_s=5)
        newcomer.close()
        for client in sending:
            client.close()
        await eventually(lambda: guard.open_connections == 0)  # their slots free up: /metrics can connect
        metrics = await intake.metrics_text()
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n")
    assert closed_count(metrics, "over_capacity") == 1


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (the peak) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


async def test_a_flood_of_body_tricklers_is_closed_in_time_and_memory_returns_near_its_level(
    broker: BrokerKit, tmp_path: Path
) -> None:
    env = component_env(
        amqp_url=broker.amqp_url,
        prefix=broker.prefix,
        producer_bind="127.0.0.1:0",
        producer_body_timeout_s="2",
        producer_header_timeout_s="2",
    )
    producer = await start_component("producer", ["producer"], env, tmp_path)
    try:
        for _ in range(20):  # warm up: the level is that of an intake that has served requests
            client = await RawClient.connect(producer.port)
            await client.send(request())
            assert (await client.one_response()).startswith(b"HTTP/1.1 202 ")
            client.close()
        before = memory_mb(producer.process.pid)["VmRSS"]
        started = time.monotonic()
        answers = await body_flood(producer.port, 1000, sent_bytes=100_000, interval_s=0.5)
        flood_s = time.monotonic() - started
        scrapes: list[str] = []
        async with aiohttp.ClientSession() as session:

            async def flood_closed() -> bool:  # on the producer's side too: the heap is trimmed by then
                async with session.get(f"{producer.url}/metrics") as response:
                    scrapes.append(await response.text())
                return metric(scrapes[-1], "komo_braze_producer_open_connections") == 1  # this scrape's

            await eventually(flood_closed, timeout_s=10, what="the flood's connections closed")
        metrics = scrapes[-1]
        memory = memory_mb(producer.process.pid)
    finally:
        assert await producer.stop(timeout_s=20) == 0
    peak, after = memory["VmHWM"], memory["VmRSS"]
    figures = f"flood of 1000: {flood_s:.1f} s, RSS {before:.0f} MB before, {peak:.0f} at peak, {after:.0f} after"
    # each client was answered 408 or closed (a close with its bytes unread may reach it as a reset)
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    timed_out = metric(metrics, 'komo_braze_producer_requests_total{status="408"}')
    refused = closed_count(metrics, "evicted") + closed_count(metrics, "over_capacity")
    assert timed_out + refused == 1000, f"{timed_out} timed out, {refused} refused"
    assert flood_s < 30, figures  # the body deadline (2 s) closed them, not the clients
    assert peak - before > 20, "the flood did not hold enough memory to tell: " + figures
    assert after <= before + 0.25 * (peak - before) + 8, figures
