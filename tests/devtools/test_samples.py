from __future__ import annotations

import pytest

from devtools.samples import SampleFactory
from komo_braze.envelope import Envelope, EnvelopeError


def test_samples_are_flat_string_bodies_the_intake_accepts() -> None:
    factory = SampleFactory(seed=1, users=20)
    bodies = [factory.submission(n) for n in range(200)]
    for body in bodies:
        assert all(isinstance(value, str) for value in body.values()), "Komo sends every value as a string"
        assert body["email"].endswith("@example.com")
        Envelope.from_komo(body)
    assert len({b["submission_id"] for b in bodies}) == 200
    assert len({b["email"] for b in bodies}) < 200, "people submit more than once"


def test_the_same_seed_gives_the_same_samples() -> None:
    assert SampleFactory(seed=3).submission(5) == SampleFactory(seed=3).submission(5)


def test_malformed_samples_are_refused() -> None:
    with pytest.raises(EnvelopeError, match="site_id"):
        Envelope.from_komo(SampleFactory().malformed(0))
