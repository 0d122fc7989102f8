"""The queue consumer on the real broker: consuming again when aio-pika re-opens its channel.

The watchdog (``QueueConsumer.run``) is not running here: only the robust channel's re-open hook can have
consumed again. Broker restarts and ``consumer_timeout`` with the watchdog running are in
``tests/worker/test_broker_restart.py`` and ``tests/worker/test_consumer_timeout.py``.
"""

from __future__ import annotations

import pytest
import structlog
from prometheus_client import CollectorRegistry

from komo_braze.amqp import connect
from tests.broker import BrokerKit
from tests.waiting import eventually
from tests.worker.harness import body, publish
from worker.consumer import QueueConsumer
from worker.metrics import WorkerMetrics
from worker.settle import Delivery

pytestmark = pytest.mark.timeout(60)


async def test_a_channel_the_broker_closed_is_consumed_again_as_soon_as_aio_pika_reopens_it(broker: BrokerKit) -> None:
    await broker.declare()
    delivered: list[Delivery] = []
    returned: list[None] = []
    metrics = WorkerMetrics(CollectorRegistry())
    connection = await connect(broker.settings(), "test-consumer")
    consumer = QueueConsumer(
        connection,
        broker.names.work_queue(),
        "default",
        prefetch=10,
        hold_limit_s=600,
        on_delivery=delivered.append,
        can_resume=lambda: True,
        on_returned=lambda: returned.append(None),
        metrics=metrics,
    )
    try:
        with structlog.testing.capture_logs() as events:
            await consumer.start()
            await publish(broker, [body("u-1", n=1)])
            await eventually(lambda: len(delivered) == 1, timeout_s=15)
            assert consumer.ready

            # acking a tag the channel never delivered makes the broker close the channel
            first = delivered[0]
            await first.message.channel.basic_ack(first.delivery_tag + 100, wait=False)
            await eventually(lambda: len(delivered) == 2, timeout_s=15)  # the held one, delivered again

        assert first.stale
        assert delivered[1].message.header.properties.message_id == first.message.header.properties.message_id
        assert delivered[1].message.redelivered
        assert returned == [None]
        assert [e["event"] for e in events if e["event"].startswith("consum")] == [
            "consuming",
            "consumer_reestablished",
        ]
        assert metrics.value("consumer_restarts_total", workspace="default") == 1
        assert consumer.ready
    finally:
        await consumer.stop_consuming()
        await consumer.close()
        await connection.close()
