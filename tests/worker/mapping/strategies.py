"""Hypothesis strategies for Komo payloads: any JSON, with the fields the mappings read shaped like real input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from komo_braze.envelope import Envelope
from tests.komo_example import SUMMER_HUB
from tests.worker.mapping.samples import OTHER_HUB

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

phones = st.from_regex(r"(\+61 ?|0)4[0-9]{2} ?[0-9]{3} ?[0-9]{3}", fullmatch=True) | st.from_regex(
    r"(\+|00|0)?[0-9][0-9 ()-]{5,18}", fullmatch=True
)
dates = (st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)) | st.dates()).flatmap(
    lambda d: st.sampled_from([d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%d %B %Y"), d.strftime("%Y%m%d")])
)
yes_no = st.sampled_from(["true", "false", "yes", "no", "1", "0", "on", "off", "TRUE", "maybe", ""])
#: per field, values that get past a converter's first glance, so the deeper paths run too
TYPICAL: dict[str, st.SearchStrategy[Any]] = {
    "email": st.emails() | st.sampled_from(["Joe@Bloggs.com", "joe@bloggs", "zoë@bloggs.com", "a@[1.2.3.4]"]),
    "mobile": phones,
    "date_of_birth": dates,
    "born": dates,
    "seen": st.datetimes().map(lambda d: d.isoformat()) | st.integers() | dates,
    "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "country": st.sampled_from(["Australia", "AU", "aus", "Viet Nam", "Atlantis", "the Netherlands", "UK"]),
    "gender": st.sampled_from(["Male", "f", "Non-binary", "n/a", "Prefer not to say", "robot"]),
    "optin": yes_no,
    "sms_optin": yes_no,
    "push": yes_no,
    "member": yes_no,
    "score": st.sampled_from(["1", "-2", "2.5", "1e308", "1e400", "9007199254740993", "lots"]),
    "rating": st.sampled_from(["1", "-2.5", ".5", "1e308", "nan"]),
    "interests": st.sampled_from(["footy, cricket", '["a", "b"]', "[1, [2]]", ",,", "x" * 256]),
    "tags": st.lists(st.text(max_size=10), max_size=8).map(", ".join),
    "customer_id": st.text(max_size=300) | st.integers(),
    "braze_id": st.text(max_size=30),
}
field_values = json_values | st.text(min_size=250, max_size=260) | st.text()


def _typical_mostly(field: str) -> st.SearchStrategy[Any]:
    typical = TYPICAL.get(field)
    return field_values if typical is None else st.one_of(typical, typical, typical, field_values)


def payloads(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Any JSON object: the named fields (often) present with any value, plus arbitrary other keys."""
    named = st.fixed_dictionaries({}, optional={field: _typical_mostly(field) for field in fields})
    other = st.dictionaries(st.text(max_size=12), json_values, max_size=5)
    return st.tuples(other, named).map(lambda pair: {**pair[0], **pair[1]})


#: identifiers every mapping in the tests accepts, so that the rest of the payload gets mapped
IDENTIFIED = st.fixed_dictionaries(
    {
        "email": st.sampled_from(["joe@bloggs.com", " Zoe.Nguyen@Example.COM", "a+b@exämple.com"]),
        "mobile": st.sampled_from(["0412 345 678", "+61 412 345 678", "0011 61 412 345 678"]),
    }
)


def envelopes(fields: list[str], *, identified: bool = False) -> st.SearchStrategy[Envelope]:
    """Envelopes as the worker decodes them: a hub id and any payload (the producer checked only the ids).

    ``identified`` overlays a valid email and mobile, so nearly every envelope maps and its objects get checked.
    """
    bodies = payloads(fields)
    if identified:
        bodies = st.tuples(bodies, IDENTIFIED).map(lambda pair: {**pair[0], **pair[1]})
    return st.builds(
        lambda hub_id, payload: Envelope(
            submission_id="c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
            hub_id=hub_id,
            event=None,
            received_at=datetime(2026, 1, 1, 9, 30, 5, tzinfo=UTC),
            payload=payload,
        ),
        st.sampled_from([SUMMER_HUB, OTHER_HUB, "hub-phone", "hub-ids"]),
        bodies,
    )
