"""``skip_unchanged: true``: entrants who submit again with the same details cost no attribute writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from braze_sim.testing import running_sim
from tests.broker import BrokerKit
from tests.worker.fleet import event_counts, fleet, publish_fast, settle
from tests.worker.harness import body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ENTRANTS = 500
CHANGED = 50  # entrants whose favourite team is different the second time


def _entries(round_number: int) -> list[dict[str, Any]]:
    return [
        body(
            f"entrant-{n}",
            n=60 * round_number,
            submission_id=f"skip-{round_number}-{n}",
            first_name=f"Name{n}",
            email=f"entrant{n}@example.com",
            favourite_team="Swans" if round_number == 1 or n >= CHANGED else "Cats",
        )
        for n in range(ENTRANTS)
    ]


async def test_a_second_round_of_unchanged_entries_writes_only_the_changed_attributes(
    broker: BrokerKit, redis_url: str, tmp_path: Path
) -> None:
    await broker.declare()
    first, second = _entries(1), _entries(2)
    async with running_sim() as sim, fleet(broker, sim, tmp_path, redis_url, skip_unchanged=True) as crew:
        await crew.start()
        await publish_fast(broker, first)
        await settle(broker, crew, sim, {str(b["submission_id"]) for b in first})
        written_first = await crew.metric("komo_braze_worker_attribute_values_sent_total", workspace="default")
        await publish_fast(broker, second)
        await settle(broker, crew, sim, {str(b["submission_id"]) for b in first + second})
        written = await crew.metric("komo_braze_worker_attribute_values_sent_total", workspace="default")
        unchanged = await crew.metric(
            "komo_braze_worker_attributes_held_back_total", workspace="default", reason="unchanged"
        )
        written_second = written - written_first
        print(
            f"\nskip_unchanged: round 1 wrote {written_first:.0f} attribute values, round 2 {written_second:.0f} "
            f"({1 - written_second / written_first:.1%} fewer), {unchanged:.0f} held back as unchanged"
        )
        assert written_first == ENTRANTS * 3  # first_name, email, favourite_team
        assert written_second == CHANGED
        assert unchanged == ENTRANTS * 3 - CHANGED
        assert len(await event_counts(sim)) == 2 * ENTRANTS  # events are always sent
        changed = await sim.client.profile(external_id="entrant-0")
        kept = await sim.client.profile(external_id=f"entrant-{CHANGED}")
        assert changed is not None
        assert changed["custom_attributes"]["favourite_team"] == "Cats"
        assert kept is not None
        assert kept["custom_attributes"]["favourite_team"] == "Swans"
