from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.broker import BrokerKit
from tests.worker.dlq.letters import fill, message_ids
from worker.dlq.held import Held
from worker.dlq.reader import DeadLetterReader


async def test_acks_go_out_together_only_over_the_oldest_letters(
    broker: BrokerKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    await broker.declare()
    async with broker.connection() as connection:
        specs = await fill(connection, broker.prefix, 40)
        async with DeadLetterReader(connection, broker.names.dead_queue, prefetch=100) as reader:
            helds: list[Held] = []
            async for held in reader.letters():
                helds.append(held)
                if held.position <= 20:
                    reader.claim(held)  # 21..40 are left held
            channel = helds[0].message.channel
            frames: list[tuple[int, bool]] = []
            send = channel.basic_ack

            async def recorded(tag: int, multiple: bool = False, wait: bool = True) -> Any:
                frames.append((tag, multiple))
                return await send(tag, multiple=multiple, wait=wait)

            monkeypatch.setattr(channel, "basic_ack", recorded)
            tag = {h.position: h.message.delivery_tag for h in helds}

            async def ack(*positions: int) -> None:
                await asyncio.gather(*(reader.ack(helds[p - 1]) for p in positions))

            await ack(*range(6, 11))  # 1 is still in flight: each on its own
            assert frames == [(tag[p], False) for p in range(6, 11)]
            frames.clear()
            await ack(*range(1, 6))  # now 1..10 are the oldest: one frame
            assert frames == [(tag[5], True)]
            frames.clear()
            reader.unclaim(helds[12])  # 13 stays after all
            await ack(11, 12, *range(14, 21))
            assert frames == [(tag[12], True)] + [(tag[p], False) for p in range(14, 21)]
            assert reader.acked == 19
            await asyncio.sleep(0.2)
            assert not channel.is_closed  # a tag acked twice would have closed it
    left = [s.submission_id for s in specs[12:13] + specs[20:]]
    assert message_ids(await broker.drain(broker.names.dead_queue)) == left
