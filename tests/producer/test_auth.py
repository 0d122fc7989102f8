from __future__ import annotations

import re
import time
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


def test_with_a_timestamp_the_signature_covers_timestamp_dot_body() -> None:
    signer = authenticator(secret="s3cret")
    stamp = 1_800_000_000
    assert signer.allows({"X-Komo-Signature": sign("s3cret", BODY, stamp), "X-Komo-Timestamp": str(stamp)}, BODY)
    moved = {"X-Komo-Signature": sign("s3cret", BODY, stamp), "X-Komo-Timestamp": str(stamp + 1)}
    assert not signer.allows(moved, BODY)  # the time cannot be changed without the secret
    body_only = {"X-Komo-Signature": sign("s3cret", BODY), "X-Komo-Timestamp": str(stamp)}
    assert not signer.allows(body_only, BODY)


async def test_a_signed_timestamped_request_is_accepted_once_near_its_time_over_http(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    now = int(time.time())
    fresh = {"X-Komo-Signature": sign("hmac-secret", BODY, now), "X-Komo-Timestamp": str(now)}
    stale = {"X-Komo-Signature": sign("hmac-secret", BODY, now - 600), "X-Komo-Timestamp": str(now - 600)}
    answers = []
    async with start_intake(webhook_hmac_secret="hmac-secret", webhook_timestamp_tolerance_s=300) as intake:
        for headers in (fresh, fresh, stale, {"X-Komo-Signature": sign("hmac-secret", BODY)}):
            async with intake.post(BODY, headers=headers) as response:
                answers.append((response.status, await response.json()))
        metrics = await intake.metrics_text()
    stale_answer = answers.pop(2)
    assert answers == [
        (202, {"submission_id": KOMO_BODY["submission_id"]}),
        (401, {"error": "this signed request was already received (a replay)"}),
        (202, {"submission_id": KOMO_BODY["submission_id"]}),  # no timestamp: the body-only signature still counts
    ]
    assert stale_answer[0] == 401
    assert re.fullmatch(
        r"X-Komo-Timestamp is 60[01] s from this server's clock; the tolerance is 300 s", stale_answer[1]["error"]
    )
    assert 'komo_braze_producer_requests_total{status="401"} 2.0' in metrics
    assert await broker.wait_for_count(broker.names.work_queue(), 2) == 2


async def test_timestamps_can_be_required(start_intake: StartIntake, broker: BrokerKit) -> None:
    now = int(time.time())
    async with start_intake(webhook_hmac_secret="hmac-secret", webhook_require_timestamp=True) as intake:
        async with intake.post(BODY, headers={"X-Komo-Signature": sign("hmac-secret", BODY)}) as response:
            assert (response.status, await response.json()) == (
                401,
                {"error": "signed requests must carry X-Komo-Timestamp"},
            )
        headers = {"X-Komo-Signature": sign("hmac-secret", BODY, now), "X-Komo-Timestamp": str(now)}
        async with intake.post(BODY, headers=headers) as response:
            assert response.status == 202
    assert await broker.wait_for_count(broker.names.work_queue(), 1) == 1


async def test_a_signed_request_that_got_a_503_is_no_replay_when_the_sender_retries_it(
    start_intake: StartIntake, broker: BrokerKit
) -> None:
    now = int(time.time())
    headers = {"X-Komo-Signature": sign("hmac-secret", BODY, now), "X-Komo-Timestamp": str(now)}
    async with start_intake(webhook_hmac_secret="hmac-secret") as intake:
        async with broker.connection() as connection:
            await (await connection.channel()).queue_delete(broker.names.work_queue())
        async with intake.post(BODY, headers=headers) as response:
            assert response.status == 503  # unroutable: nothing was accepted
        await broker.declare()
        async with intake.post(BODY, headers=headers) as response:
            assert response.status == 202
        async with intake.post(BODY, headers=headers) as response:
            assert response.status == 401
    assert await broker.wait_for_count(broker.names.work_queue(), 1) == 1
