"""Rate-limit headers from whatever answered: read without raising, absurd values ignored or clamped,
and every header not used as it came named for the metric."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from worker.ratelimit_headers import RateLimitHeaders

NOW = 1_700_000_000.0


def _parse(**headers: str) -> RateLimitHeaders:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return RateLimitHeaders.parse(named, now_s=NOW, max_ahead_s=3600.0)


def test_sane_headers_are_read_as_they_come() -> None:
    parsed = _parse(**{"X_RateLimit_Limit": "3000", "X_RateLimit_Remaining": "12", "X_RateLimit_Reset": "1700000003"})
    assert parsed == RateLimitHeaders(3000, 12, 1_700_000_003.0, None, ())
    assert _parse(Retry_After="2") == RateLimitHeaders(None, None, None, 2.0, ())


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "1e400", "soon", ""])
def test_a_value_that_is_no_finite_number_is_ignored_and_named(value: str) -> None:
    parsed = _parse(X_RateLimit_Limit=value, X_RateLimit_Remaining=value, X_RateLimit_Reset=value, Retry_After=value)
    assert parsed == RateLimitHeaders(
        None, None, None, None, ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After")
    )


def test_negative_and_huge_counts() -> None:
    assert _parse(X_RateLimit_Limit="-1", X_RateLimit_Remaining="-100") == RateLimitHeaders(
        None, 0, None, None, ("X-RateLimit-Limit", "X-RateLimit-Remaining")
    )
    assert _parse(X_RateLimit_Remaining="9" * 30).remaining is None
    assert _parse(X_RateLimit_Limit="0").limit is None


def test_a_reset_far_ahead_is_clamped_to_the_cap_and_one_in_milliseconds_is_read_as_such() -> None:
    assert _parse(X_RateLimit_Reset="4102444800") == RateLimitHeaders(
        None, None, NOW + 3600, None, ("X-RateLimit-Reset",)
    )
    assert _parse(X_RateLimit_Reset=str(int((NOW + 3) * 1000))).reset_epoch_s == NOW + 3
    assert _parse(X_RateLimit_Reset="-5") == RateLimitHeaders(None, None, None, None, ("X-RateLimit-Reset",))
    assert _parse(X_RateLimit_Reset="1e308").reset_epoch_s == NOW + 3600


@pytest.mark.parametrize(("value", "seconds"), [("-5", 0.0), ("99999999999", 3600.0), ("3600.5", 3600.0)])
def test_a_retry_after_out_of_bounds_is_clamped_and_named(value: str, seconds: float) -> None:
    assert _parse(Retry_After=value) == RateLimitHeaders(None, None, None, seconds, ("Retry-After",))


def test_an_http_date_retry_after_is_the_seconds_until_then() -> None:
    assert _parse(Retry_After=formatdate(NOW + 30, usegmt=True)).retry_after_s == 30.0
    assert _parse(Retry_After=formatdate(NOW - 30, usegmt=True)) == RateLimitHeaders(None, None, None, 0.0, ())
    far = _parse(Retry_After="Fri, 01 Jan 2100 00:00:00 GMT")
    assert (far.retry_after_s, far.unusable) == (3600.0, ("Retry-After",))
    assert _parse(Retry_After="Mon, 99 Foo 2015 07:28:00 GMT").unusable == ("Retry-After",)
