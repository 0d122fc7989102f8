"""What the dead-letter reader hands out: a letter read and held, and the consumer holding it."""

from __future__ import annotations

from dataclasses import dataclass, field

from komo_braze.amqp_adapter import DeliveredMessage
from komo_braze.deadletter import DeadLetter


@dataclass(slots=True)
class Consumer:
    """One consumer of the reader's channel and the letters it holds."""

    tag: str
    delivered: int = 0
    acked: int = 0
    claimed: int = 0

    @property
    def unacked(self) -> int:
        return self.delivered - self.acked


@dataclass(slots=True)
class Held:
    """A letter read and held; ``position`` is its place in the queue (1 = the head)."""

    message: DeliveredMessage  # aiormq's, as delivered: no aio-pika message built per letter
    letter: DeadLetter
    position: int
    consumer: Consumer = field(repr=False)
    settling: bool = field(default=False, repr=False)  # claimed or acked: it does not stay
