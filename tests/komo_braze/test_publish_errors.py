"""How a failed publish is told (komo_braze/publish_errors.py); the real broker's cases are in
test_publishing.py (ConfirmPublisher: unroutable, nacked, lost, unconfirmed) and tests/worker/dlq/
(replay's pipeline losing its connection)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import aiormq
import pytest

from komo_braze.publish_errors import (
    BrokerUnavailable,
    PublishFailed,
    PublishRejected,
    Unencodable,
    publish_errors,
)


def raised_within(error: BaseException, on_lost: Callable[[BaseException], None] | None = None) -> PublishFailed:
    with pytest.raises(PublishFailed) as failed, publish_errors("hub.x", 2.5, on_lost=on_lost):
        raise error
    return failed.value


def nacked() -> BaseException:
    """aiormq's exception for a nacked message (its message and frame do not matter here)."""
    return aiormq.exceptions.DeliveryError(cast(Any, None), cast(Any, None))


def test_a_nack_is_a_rejection() -> None:
    failed = raised_within(nacked())
    assert type(failed) is PublishRejected
    assert failed.reason == "broker refused the message"
    assert failed.retryable


def test_no_confirm_in_time_may_have_reached_the_broker() -> None:
    failed = raised_within(TimeoutError())
    assert isinstance(failed, BrokerUnavailable)
    assert failed.reason == "broker did not confirm in time (2.5 s)"
    assert failed.after_sending is True


def test_a_message_the_client_cannot_encode_is_unencodable_and_keeps_its_cause() -> None:
    cause = ValueError("header name too long")
    failed = raised_within(cause)
    assert isinstance(failed, Unencodable)
    assert failed.reason == "the broker cannot carry this message: header name too long"
    assert failed.__cause__ is cause


def test_a_connection_lost_under_the_publish_names_what_broke_and_calls_on_lost() -> None:
    lost: list[BaseException] = []
    cause = ConnectionResetError("reset by peer")
    failed = raised_within(cause, on_lost=lost.append)
    assert isinstance(failed, BrokerUnavailable)
    assert failed.reason == "broker connection lost (ConnectionResetError)"
    assert failed.after_sending is True
    assert lost == [cause]
    assert failed.__cause__ is cause
