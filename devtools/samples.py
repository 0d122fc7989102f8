"""Realistic Komo submissions for the demo and benchmarks (docs/architecture.md, "What Komo sends").

Flat snake_case bodies with string values, as Komo's form webhook sends them. Every address uses
reserved example domains and every number a fictional range, so no real person is ever named. Users
repeat across submissions (one person plays several quizzes), which is what coalescing feeds on.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

HUBS = (
    ("2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11", "Summer Hub"),
    ("7a1c3e5f-2b4d-4f6a-8c0e-1d3f5a7b9c2e", "Footy Finals Hub"),
    ("c4e6a8b0-1d3f-4a5c-9e7b-2f4a6c8e0b1d", "Spring Racing Hub"),
)
CARDS = (
    ("Quiz", "Footy Tipping Quiz"),
    ("Form", "Win a Trip to Bali"),
    ("Poll", "Best Player of the Round"),
    ("Quiz", "Know Your Cup Winners"),
)
FIRST_NAMES = ("Olivia", "Jack", "Charlotte", "Noah", "Amelia", "William", "Isla", "Oliver", "Mia", "Leo")
LAST_NAMES = ("Smith", "Nguyen", "Williams", "Brown", "Wilson", "Taylor", "Singh", "Martin", "Lee", "Walker")
TEAMS = ("Swans", "Magpies", "Cats", "Lions", "Demons", "Tigers", "Eagles", "Bombers")
COUNTRIES = ("Australia", "AU", "New Zealand", "australia")
INTERESTS = ("travel", "sport", "music", "food", "fashion", "tech")

#: the mapping of the demo and the worker benchmark: every field the samples carry, one event per submission
SAMPLE_MAPPING = """\
hubs:
  "*":
    identify:
      - {by: external_id, field: customer_id}
      - {by: alias, field: email, label: email}
    update_existing_only: false
    default_region: AU
    attributes:
      first_name: first_name
      last_name: last_name
      email: {to: email, type: email}
      mobile: {to: phone, type: phone}
      date_of_birth: {to: dob, type: date}
      country: {to: country, type: country}
      optin: {to: email_subscribe, type: subscription}
      interests: {to: komo_interests, type: list, mode: add}
      favourite_team: favourite_team
      score: {to: komo_last_score, type: number}
    constants:
      komo_source: komo
    event:
      name: komo_form_submitted
      properties: [site_id, card_id, card_type, submission_id]
"""


class SampleFactory:
    """Makes submissions; ``users`` distinct people spread over the hubs."""

    def __init__(self, seed: int = 7, users: int = 200) -> None:
        self._random = random.Random(seed)
        self._users = [self._user(n) for n in range(users)]
        self._start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def _user(self, n: int) -> dict[str, str]:
        first, last = self._random.choice(FIRST_NAMES), self._random.choice(LAST_NAMES)
        birth = datetime(1960, 1, 1) + timedelta(days=self._random.randrange(0, 365 * 45))
        return {
            "customer_id": f"cust-{n:05d}",
            "email": f"{first}.{last}.{n}@example.com".lower(),
            "first_name": first,
            "last_name": last,
            "mobile": f"04{self._random.randrange(0, 100):02d} 900 {n % 1000:03d}",  # fictional range
            "date_of_birth": birth.strftime("%Y-%m-%d"),
            "postcode": str(self._random.choice((2000, 2010, 3000, 3141, 4000, 5000, 6000))),
            "country": self._random.choice(COUNTRIES),
        }

    def submission(self, n: int) -> dict[str, Any]:
        """The ``n``-th submission: a fresh id, a user, a hub and a card, answers as strings."""
        rnd = self._random
        site_id, site_name = rnd.choice(HUBS)
        card_type, card_name = rnd.choice(CARDS)
        user = rnd.choice(self._users)
        moment = self._start + timedelta(seconds=n * 7 + rnd.randrange(0, 7))
        body: dict[str, Any] = {
            "id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "event": "CompetitionEntrySuccess",
            "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "site_id": site_id,
            "site_name": site_name,
            "user_session_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "card_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "card_name": card_name,
            "card_type": card_type,
            "competition_entry_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "submission_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            **user,
            "optin": rnd.choice(("true", "true", "false")),
            "sms_optin": rnd.choice(("true", "false", "")),
            "favourite_team": rnd.choice(TEAMS),
            "interests": ",".join(rnd.sample(INTERESTS, k=rnd.randrange(1, 4))),
        }
        if card_type == "Quiz":
            body["score"] = str(rnd.randrange(0, 11))
            body["correct"] = body["score"]
        return body

    def malformed(self, n: int) -> dict[str, Any]:
        """A submission Komo would never send: no ``site_id`` (the intake answers 400)."""
        body = self.submission(n)
        del body["site_id"]
        return body


def updates(users: int, rounds: int, *, start: datetime | None = None) -> list[dict[str, Any]]:
    """The per-user order scenario: each of ``users`` changes ``favourite_team`` to ``team-1`` ..
    ``team-<rounds>``, back to back, each a second later in Komo time (the last value must win)."""
    moment = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    bodies = []
    for user in range(users):
        for r in range(1, rounds + 1):
            sid = str(uuid.uuid4())
            bodies.append(
                {
                    "id": sid,
                    "submission_id": sid,
                    "event": "CompetitionEntrySuccess",
                    "timestamp": (moment + timedelta(seconds=r))
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
                    "site_id": HUBS[0][0],
                    "customer_id": f"user-{user}",
                    "favourite_team": f"team-{r}",
                }
            )
    return bodies
