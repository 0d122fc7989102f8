"""Komo's documented form-submission webhook body (reference: komo-submissions.md), verbatim, for tests."""

from __future__ import annotations

from typing import Any

#: the hub (``site_id``) of the documented body
SUMMER_HUB = "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"

#: the documented body; copy it (``dict(KOMO_BODY)``) before changing it in a test
KOMO_BODY: dict[str, Any] = {
    "id": "54e635de-92f5-4419-a498-5f69323db34c",
    "event": "CompetitionEntrySuccess",
    "timestamp": "2026-01-01T09:30:00.000Z",
    "site_id": SUMMER_HUB,
    "site_name": "Summer Hub",
    "user_session_id": "d40cc0e7-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "user_profile_id": "0fdbb943-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
    "card_name": "Footy Tipping Quiz",
    "card_type": "Quiz",
    "score": "1",
    "correct": "1",
    "competition_entry_id": "a76a65ea-3b4c-4d5e-8f6a-7b8c9d0e1f2a",
    "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
    "email": "joe@bloggs.com",
    "first_name": "Joe",
    "last_name": "Bloggs",
    "optin": "true",
}
