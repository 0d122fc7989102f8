"""Small builders of mapped submissions for the worker's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pamqp.commands import Basic
from pamqp.header import ContentHeader

from komo_braze.amqp_adapter import DeliveredMessage, DeliveryChannel
from worker.batch import Submission
from worker.mapping.model import IdentifierKind, Mapped, UserKey
from worker.settle import Delivery

T0 = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def mapped(
    user: str,
    *,
    at_s: float = 0.0,
    attributes: dict[str, Any] | None = None,
    event: bool = True,
    workspace: str = "default",
    submission_id: str = "s",
) -> Mapped:
    moment = T0 + timedelta(seconds=at_s)
    return Mapped(
        workspace=workspace,
        user=UserKey(IdentifierKind.EXTERNAL_ID, user),
        attributes={"external_id": user, **(attributes or {})},
        event=(
            {
                "external_id": user,
                "name": "komo_form_submitted",
                "time": moment.isoformat(),
                "properties": {"submission_id": submission_id},
            }
            if event
            else None
        ),
        timestamp=moment,
    )


def submission(
    submission_id: str,
    user: str,
    *,
    at_s: float = 0.0,
    attributes: dict[str, Any] | None = None,
    event: bool = True,
    workspace: str = "default",
    handle: object | None = None,
) -> Submission[object]:
    return Submission(
        handle=handle if handle is not None else submission_id,
        submission_id=submission_id,
        mapped=mapped(
            user, at_s=at_s, attributes=attributes, event=event, workspace=workspace, submission_id=submission_id
        ),
        received_at=T0 + timedelta(seconds=at_s),
    )


class OpenChannel:
    """Stands for the channel a delivery came on, where a test never acks on it."""

    is_closed = False


def delivered(
    message_id: str, *, tag: int = 1, body: bytes = b"{}", channel: object | None = None, workspace: str = "default"
) -> Delivery:
    """A delivery as the consumer hands it on: aiormq's message, ``message_id`` in its properties."""
    message = DeliveredMessage(
        delivery=Basic.Deliver(consumer_tag="c", delivery_tag=tag),
        header=ContentHeader(properties=Basic.Properties(message_id=message_id)),
        body=body,
        channel=cast(DeliveryChannel, channel if channel is not None else OpenChannel()),
    )
    return Delivery(message, workspace)
