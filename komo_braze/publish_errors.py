"""What can go wrong when publishing with a confirm, as values a caller can act on, and the one place
that turns what aio-pika and aiormq raise into them (the intake's, ``publish``'s and ``dlq import``'s
:class:`komo_braze.publishing.ConfirmPublisher`, and ``dlq replay``'s pipeline)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aio_pika


class PublishFailed(Exception):
    """The broker did not take a message; ``reason`` is one line safe to show to a sender.

    ``kind`` is a bounded word for metrics and logs; ``retryable`` says whether trying again may help.
    """

    kind = "failed"
    retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BrokerUnavailable(PublishFailed):
    """Not connected, the connection broke mid-publish, or the confirm did not come in time.

    ``after_sending``: the message may have reached the broker (its fate is unknown), as opposed to
    refused before anything was sent.
    """

    kind = "unavailable"

    def __init__(self, reason: str, *, after_sending: bool = False) -> None:
        super().__init__(reason)
        self.after_sending = after_sending


class PublishRejected(PublishFailed):
    """The broker answered no: a nack (e.g. a full queue with ``reject-publish``)."""

    kind = "rejected"


class Unroutable(PublishRejected):
    """The broker returned the message: no queue is bound for its routing key."""

    kind = "unroutable"
    retryable = False


class Unencodable(PublishFailed):
    """The broker client cannot encode the message (e.g. a header name over 255 bytes): nothing was sent."""

    kind = "rejected"
    retryable = False


@contextmanager
def publish_errors(
    routing_key: str,
    timeout_s: float,
    *,
    on_lost: Callable[[BaseException], None] | None = None,
) -> Iterator[None]:
    """Around a ``mandatory`` publish and its confirm (bounded by ``timeout_s``): what aio-pika and aiormq
    raise becomes a :class:`PublishFailed`, the original chained as its cause. ``on_lost(exc)`` is called
    when the connection or the channel broke under the publish."""
    try:
        yield
    except aio_pika.exceptions.PublishError as exc:
        raise Unroutable(f"unroutable: no queue is bound for routing key {routing_key}") from exc
    except aio_pika.exceptions.DeliveryError as exc:
        raise PublishRejected("broker refused the message") from exc
    except TimeoutError as exc:
        raise BrokerUnavailable(f"broker did not confirm in time ({timeout_s:g} s)", after_sending=True) from exc
    except (TypeError, ValueError) as exc:
        # raised while encoding the frames, before anything is written: the channel stays usable
        raise Unencodable(f"the broker cannot carry this message: {exc}") from exc
    except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
        # RuntimeError: aiormq's ChannelInvalidStateError when the channel closes under us
        if on_lost is not None:
            on_lost(exc)
        raise BrokerUnavailable(f"broker connection lost ({type(exc).__name__})", after_sending=True) from exc
