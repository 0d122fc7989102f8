from __future__ import annotations

from pathlib import Path

import pytest

from komo_braze.settings import (
    BatchMode,
    HostPort,
    SettingsError,
    load_settings,
    parse_rate,
    settings_markdown,
    settings_table,
)


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KOMO_BRAZE_PREFIX", "KOMO_BRAZE_BATCH_LINGER_MS", "KOMO_BRAZE_PRODUCER_BIND"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.prefix == "komo"
    assert settings.batch_linger_ms == 250
    assert settings.batch_mode is BatchMode.COMBINED
    assert settings.producer_bind == HostPort("127.0.0.1", 8080)
    assert settings.amqp_url_str == "amqp://guest:guest@localhost:5672/"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMO_BRAZE_BATCH_MODE", "per-array")
    monkeypatch.setenv("KOMO_BRAZE_PRODUCER_BIND", "0.0.0.0:9000")
    monkeypatch.setenv("KOMO_BRAZE_WEBHOOK_TOKEN", "old-token, new-token")
    settings = load_settings()
    assert settings.batch_mode is BatchMode.PER_ARRAY
    assert settings.producer_bind == HostPort("0.0.0.0", 9000)
    assert not settings.producer_bind.is_loopback
    assert [t.get_secret_value() for t in settings.webhook_token] == ["old-token", "new-token"]


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMO_BRAZE_PREFIX", "from-env")
    assert load_settings(prefix="from-flag").prefix == "from-flag"
    assert load_settings(prefix=None).prefix == "from-env"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KOMO_BRAZE_BATCH_LINGER_MS", "soon"),
        ("KOMO_BRAZE_BATCH_MODE", "sometimes"),
        ("KOMO_BRAZE_PRODUCER_BIND", "no-port"),
        ("KOMO_BRAZE_PREFIX", "has space"),
        ("KOMO_BRAZE_BRAZE_STATIC_RATE_LIMIT", "fast"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_secrets_stay_out_of_repr_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMO_BRAZE_BRAZE_API_KEY", "sk-very-secret")
    monkeypatch.setenv("KOMO_BRAZE_WEBHOOK_HMAC_SECRET", "hmac-very-secret")
    monkeypatch.setenv("KOMO_BRAZE_AMQP_URL", "amqp://user:pw-very-secret@broker:5672/")
    settings = load_settings()
    text = repr(settings) + str(settings)
    assert "very-secret" not in text
    monkeypatch.setenv("KOMO_BRAZE_BATCH_LINGER_MS", "sk-very-secret")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "very-secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3000/3s", (3000, 3.0)), ("50000/1m", (50000, 60.0)), ("10/500ms", (10, 0.5)), ("7/s", (7, 1.0))],
)
def test_rates_parse(text: str, expected: tuple[int, float]) -> None:
    assert parse_rate(text) == expected


def test_the_settings_table_lists_every_variable_once() -> None:
    names = [row[0] for row in settings_table()]
    assert len(names) == len(set(names))
    assert {"KOMO_BRAZE_AMQP_URL", "KOMO_BRAZE_MAPPING", "KOMO_BRAZE_BATCH_MODE"} <= set(names)
    assert all(row[1] for row in settings_table()), "every setting has a description"


def test_blank_secrets_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOMO_BRAZE_WEBHOOK_HMAC_SECRET", " ")
    monkeypatch.setenv("KOMO_BRAZE_WEBHOOK_TOKEN", " , ")
    monkeypatch.setenv("KOMO_BRAZE_BRAZE_API_KEY", "")
    settings = load_settings()
    assert settings.webhook_hmac_secret is None
    assert settings.webhook_token == []
    assert settings.braze_api_key is None


def test_readme_carries_the_settings_table_of_the_code() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme, "README's settings table is stale: `komo-braze settings --markdown`"


def test_a_url_default_shows_without_its_password() -> None:
    [amqp_row] = [row for row in settings_table() if row[0] == "KOMO_BRAZE_AMQP_URL"]
    assert amqp_row[2] == "amqp://guest:***@localhost:5672/"


def test_the_producer_admin_bind_is_optional_and_apart_from_the_intake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOMO_BRAZE_PRODUCER_ADMIN_BIND", raising=False)
    assert load_settings().producer_admin_bind is None
    monkeypatch.setenv("KOMO_BRAZE_PRODUCER_ADMIN_BIND", "")
    assert load_settings().producer_admin_bind is None
    monkeypatch.setenv("KOMO_BRAZE_PRODUCER_ADMIN_BIND", "0.0.0.0:9180")
    assert load_settings().producer_admin_bind == HostPort("0.0.0.0", 9180)
    monkeypatch.setenv("KOMO_BRAZE_PRODUCER_BIND", "0.0.0.0:9180")
    with pytest.raises(SettingsError, match="KOMO_BRAZE_PRODUCER_ADMIN_BIND must differ from KOMO_BRAZE_PRODUCER_BIND"):
        load_settings()
