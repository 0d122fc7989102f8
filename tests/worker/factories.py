"""Small builders of mapped submissions for the worker's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from worker.batch import Submission
from worker.mapping.model import IdentifierKind, Mapped, UserKey

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
