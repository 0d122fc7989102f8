"""Dead letters for tests and benchmarks: written exactly as the worker writes them, read back whole."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from komo_braze import deadletter, topology
from komo_braze.deadletter import DeadLetter, ErrorKind
from komo_braze.envelope import Envelope

BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
KINDS = (ErrorKind.BRAZE_REJECTED, ErrorKind.NO_IDENTIFIER, ErrorKind.UNMAPPED_HUB)
HUBS = ("hub-a", "hub-b", "hub-c")


@dataclass(frozen=True, slots=True)
class Spec:
    """One dead letter to write: submission ``sub-{n:06d}``; the rest cycles so filters have work."""

    n: int
    kind: ErrorKind
    hub: str
    workspace: str
    failed_at: datetime

    @property
    def submission_id(self) -> str:
        return f"sub-{self.n:06d}"


def spec(n: int) -> Spec:
    return Spec(
        n=n,
        kind=KINDS[n % len(KINDS)],
        hub=HUBS[(n // 3) % len(HUBS)],
        workspace="client_b" if n % 5 == 0 else "default",
        failed_at=BASE_TIME + timedelta(minutes=n),
    )


def dead_letter(item: Spec) -> aio_pika.Message:
    body = {
        "submission_id": item.submission_id,
        "site_id": item.hub,
        "email": f"user{item.n}@example.com",
        "mobile": "+61 412 345 678",
        "first_name": "Joe",
    }
    return letter_of(
        body,
        kind=item.kind,
        detail=f"Invalid email address user{item.n}@example.com",
        workspace=item.workspace,
        failed_at=item.failed_at,
    )


def letter_of(
    body: dict[str, Any], *, kind: ErrorKind, detail: str, workspace: str = "default", failed_at: datetime = BASE_TIME
) -> aio_pika.Message:
    """The dead letter the worker writes for a Komo ``body`` (received five seconds before it failed)."""
    envelope = Envelope.from_komo(body, received_at=failed_at - timedelta(seconds=5))
    original = aio_pika.Message(envelope.encode(), message_id=envelope.submission_id)
    return deadletter.build_dead_letter(
        original.body,
        original,
        kind=kind,
        detail=detail,
        attempts=1,
        hub_id=envelope.hub_id,
        workspace=workspace,
        failed_at=failed_at,
    )


async def fill(connection: aio_pika.abc.AbstractConnection, prefix: str, count: int, start: int = 0) -> list[Spec]:
    """Write ``count`` dead letters to ``{prefix}.dead`` with confirms, in order; returns their specs."""
    specs = [spec(n) for n in range(start, start + count)]
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.Names(prefix).dead_exchange)
    for first in range(0, count, 2000):
        chunk = specs[first : first + 2000]
        await asyncio.gather(*(exchange.publish(dead_letter(s), routing_key="", mandatory=True) for s in chunk))
    await channel.close()
    return specs


async def read_queue(connection: aio_pika.abc.AbstractConnection, queue_name: str) -> list[DeadLetter]:
    """Every message of a queue in order, handed back afterwards (prefetch covers it, so no reorder)."""
    channel = await connection.channel()
    queue = await channel.declare_queue(queue_name, passive=True)
    depth = queue.declaration_result.message_count or 0
    letters: list[DeadLetter] = []
    if depth:
        await channel.set_qos(prefetch_count=min(depth, 65535))
        done = asyncio.Event()

        async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            letters.append(DeadLetter.from_message(message))
            if len(letters) >= depth:
                done.set()

        await queue.consume(take)
        await asyncio.wait_for(done.wait(), timeout=60)
    await channel.close()
    return letters


def ids(letters: list[DeadLetter]) -> list[str | None]:
    return [letter.submission_id for letter in letters]


def message_ids(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[str | None]:
    return [message.message_id for message in messages]
