from __future__ import annotations

from typing import Any

import orjson
import pytest

from komo_braze.settings import load_settings
from producer.auth import Authenticator, UnsafeBind, check_bind, sign
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY
from tests.producer.conftest import StartIntake

BODY = orjson.dumps(KOMO_BODY)


def authenticator(tokens: tuple[str, ...] = (), secret: str | None = None) -> Authenticator:
    return Authenticator([t.encode() for t in tokens], secret.encode() if secret else None)


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Authorization": "Bearer current"}, True),
        ({"Authorization": "bearer previous"}, True),  # the rotated-out token still works until removed
        ({"Authorization": "Bearer  current "}, True),
        ({"Authorization": "Bearer wrong"}, False),
        ({"Authorization": "Bearer curren"}, False),
        ({"Authorization": "Basic current"}, False),
        ({"Authorization": "current"}, False),
        ({"Authorization": "Bearer cürrent"}, False),
        ({}, False),
    ],
)
def test_bearer_tokens(headers: dict[str, str], allowed: bool) -> None:
    assert authenticator(("current", "previous")).allows(headers, BODY) is allowed


@pytest.mark.parametrize(
    ("headers", "body", "allowed"),
    [
        ({"X-Komo-Signature": sign("s3cret", BODY)}, BODY, True),
        ({"X-Komo-Signature": sign("s3cret", BODY).upper().replace("SHA256=", "sha256=")}, BODY, True),
        ({"X-Komo-Signature": sign("s3cret", BODY)}, BODY + b" ", False),  # body changed after signing
        ({"X-Komo-Signature": sign("other", BODY)}, BODY, False),
        ({"X-Komo-Signature": sign("s3cret", BODY).removeprefix("sha256=")}, BODY, False),
        ({"X-Komo-Signature": "sha256=zz"}, BODY, False),
        ({"X-Komo-Signature": "sha256=é"}, BODY, False),
        ({}, BODY, False),
    ],
)
def test_hmac_signatures(headers: dict[str, str], body: bytes, allowed: bool) -> None:
    assert authenticator(secret="s3cret").allows(headers, body) is allowed


def test_with_both_configured_either_credential_suffices_but_a_wrong_one_never_passes() -> None:
    both = authenticator(("tok",), "s3cret")
    good_signature = {"X-Komo-Signature": sign("s3cret", BODY)}
    assert both.allows({"Authorization": "Bearer tok"}, BODY)
    assert both.allows(good_signature, BODY)
    assert both.allows({"Authorization": "Bearer tok", **good_signature}, BODY)
    assert not both.allows({"Authorization": "Bearer nope", **good_signature}, BODY)
    assert not both.allows({"Authorization": "Bearer tok", "X-Komo-Signature": sign("x", BODY)}, BODY)


def test_a_signature_is_no_credential_when_only_tokens_are_configured() -> None:
    assert not authenticator(("tok",)).allows({"X-Komo-Signature": sign("tok", BODY)}, BODY)


def test_without_credentials_everything_is_allowed_and_only_loopback_binds_start() -> None:
    open_intake = authenticator()
    assert open_intake.allows({}, BODY)
    for bind in ("127.0.0.1:8080", "localhost:0", "[::1]:8080"):
        check_bind(load_settings(producer_bind=bind), open_intake)
    for bind in ("0.0.0.0:8080", "10.1.2.3:8080", "[::]:8080", "example.com:80"):
        with pytest.raises(UnsafeBind, match="KOMO_BRAZE_WEBHOOK_TOKEN"):
            check_bind(load_settings(producer_bind=bind), open_intake)
    check_bind(load_settings(producer_bind="0.0.0.0:8080"), authenticator(("tok",)))


def test_the_mode_names_the_credentials_but_never_their_values() -> None:
    mode = authenticator(("tok-value-1", "tok-value-2"), "secret-value").mode
    assert "2 accepted" in mode
    assert "hmac" in mode
    assert "value" not in mode


async def posted(
    start_intake: StartIntake, broker: BrokerKit, attempts: list[dict[str, Any]], **settings: Any
) -> list[int]:
    statuses = []
    async with start_intake(**settings) as intake:
        for headers in attempts:
            async with intake.post(BODY, headers=headers) as response:
                statuses.append(response.status)
                answer = await response.json()
                if response.status == 401:
                    assert answer == {"error": "missing or invalid credentials"}
    return statuses


async def test_tokens_over_http_rotated_token_accepted_wrong_ones_refused_and_not_published(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    attempts: list[dict[str, Any]] = [
        {"Authorization": "Bearer new-token"},
        {"Authorization": "Bearer old-token"},
        {"Authorization": "Bearer guess"},
        {},
    ]
    statuses = await posted(start_intake, broker, attempts, webhook_token="new-token,old-token")
    assert statuses == [202, 202, 401, 401]
    assert await broker.wait_for_count(broker.names.work_queue(), 2) == 2


async def test_hmac_over_http_signed_body_accepted_others_refused_and_not_published(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    attempts: list[dict[str, Any]] = [
        {"X-Komo-Signature": sign("hmac-secret", BODY)},
        {"X-Komo-Signature": sign("hmac-secret", BODY + b"\n")},
        {"Authorization": "Bearer hmac-secret"},
        {},
    ]
    statuses = await posted(start_intake, broker, attempts, webhook_hmac_secret="hmac-secret")
    assert statuses == [202, 401, 401, 401]
    assert await broker.wait_for_count(broker.names.work_queue(), 1) == 1
