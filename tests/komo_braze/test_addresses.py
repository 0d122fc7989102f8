from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from komo_braze.addresses import (
    AddressError,
    SentinelAddress,
    mask_passwords,
    parse_sentinel_url,
    redact,
    shuffled,
    split_addresses,
)
from komo_braze.settings import SettingsError, load_settings


def test_one_url_is_one_address() -> None:
    assert split_addresses("amqp://guest:guest@localhost:5672/") == ["amqp://guest:guest@localhost:5672/"]


def test_several_full_urls_are_kept_in_the_order_given() -> None:
    text = "amqp://u:p@rabbit-1:5672/v, amqp://u:p@rabbit-2:5673/v ,amqps://u:p@rabbit-3/v"
    assert split_addresses(text) == [
        "amqp://u:p@rabbit-1:5672/v",
        "amqp://u:p@rabbit-2:5673/v",
        "amqps://u:p@rabbit-3/v",
    ]


def test_a_host_and_port_after_the_first_takes_its_credentials_vhost_and_query() -> None:
    text = "amqp://user:s3cret@rabbit-1:5672/tenant?heartbeat=10,rabbit-2:5673,rabbit-3"
    assert split_addresses(text) == [
        "amqp://user:s3cret@rabbit-1:5672/tenant?heartbeat=10",
        "amqp://user:s3cret@rabbit-2:5673/tenant?heartbeat=10",
        "amqp://user:s3cret@rabbit-3/tenant?heartbeat=10",
    ]


@pytest.mark.parametrize(
    ("parse", "text", "problem"),
    [
        (split_addresses, "", "no broker address"),
        (split_addresses, "rabbit-1:5672,rabbit-2", "first address must be a full"),
        (split_addresses, "http://u:s3cret@rabbit-1/", "first address must be a full"),
        (split_addresses, "amqp://u:s3cret@rabbit-1/,rabbit-2:http", "bad port"),
        (split_addresses, "amqp://u:s3cret@rabbit-1/,mqtt://rabbit-2", "not an amqp"),
        (split_addresses, "amqp://u:s3cret@rabbit-1/,u:p@rabbit-2", "full URL or host"),
        (split_addresses, "amqp://u:s3cret@rabbit-1:99999/", "bad port"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1", "/service"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1/komo-state/2/3", "/service"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@/komo-state", "/service"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1:port/komo-state", "bad port"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1,,s-2/komo-state", "without a host"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1,:26380/komo-state", "without a host"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1/komo-state/one", "bad database number"),
        (parse_sentinel_url, "redis+sentinel://:s3cret@s-1/komo-state?password=s3cret", "only sentinel_password"),
    ],
)
def test_an_unusable_address_is_refused_without_showing_the_password(
    parse: Callable[[str], object], text: str, problem: str
) -> None:
    with pytest.raises(AddressError, match=problem) as raised:
        parse(text)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KOMO_BRAZE_AMQP_URL", "amqp://u:s3cret@rabbit-1/,rabbit-2:nope"),
        ("KOMO_BRAZE_STATE_URL", "redis+sentinel://:s3cret@s-1:26379"),
    ],
)
def test_a_setting_refuses_a_bad_address_naming_the_variable_and_not_the_password(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        load_settings()
    assert "s3cret" not in str(raised.value)


def test_the_setting_gives_every_address_as_a_full_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMO_BRAZE_AMQP_URL", "amqp://u:s3cret@rabbit-1:5672/,rabbit-2:5672")
    settings = load_settings()
    assert settings.amqp_urls == ["amqp://u:s3cret@rabbit-1:5672/", "amqp://u:s3cret@rabbit-2:5672/"]
    assert "s3cret" not in repr(settings)


def test_every_password_of_a_list_is_masked() -> None:
    text = "amqp://u:s3cret@rabbit-1:5672/,amqp://v:other@rabbit-2/"
    assert redact(text) == "amqp://u:***@rabbit-1:5672/,amqp://v:***@rabbit-2/"
    assert redact(split_addresses(text)) == redact(text)
    assert mask_passwords("login s3cret refused by other", split_addresses(text)) == "login *** refused by ***"


def test_shuffling_spreads_a_fleet_over_the_nodes_and_keeps_every_address() -> None:
    urls = [f"amqp://rabbit-{n}/" for n in (1, 2, 3)]
    rng = random.Random(12)
    firsts = {shuffled(urls, rng)[0] for _ in range(30)}
    assert firsts == set(urls)
    assert sorted(shuffled(urls, rng)) == urls


def test_a_sentinel_url_names_its_sentinels_the_service_and_the_primary_s_database_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_sentinel_url("redis+sentinel://s-1:26380,s-2,10.0.0.3:26381/komo-state") == SentinelAddress(
        (("s-1", 26380), ("s-2", 26379), ("10.0.0.3", 26381)), "komo-state"
    )
    assert parse_sentinel_url("redis+sentinel://app:p%40ss@s-1/komo-state/2") == SentinelAddress(
        (("s-1", 26379),), "komo-state", db=2, username="app", password="p@ss"
    )
    assert parse_sentinel_url("redis+sentinel://:s3cret@s-1/komo-state").password == "s3cret"
    with_sentinels_own = parse_sentinel_url("redis+sentinel://:s3cret@s-1/komo-state?sentinel_password=s%2Bx")
    assert (with_sentinels_own.password, with_sentinels_own.sentinel_password) == ("s3cret", "s+x")
    monkeypatch.setenv("KOMO_BRAZE_STATE_URL", "redis+sentinel://:s3cret@s-1:26379/komo-state")
    assert load_settings().state_url is not None
