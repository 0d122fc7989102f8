from __future__ import annotations

import pytest

from worker.outcome import Accepted, ConfigFault, ObjectError, RateLimited, Retry, Split, decide


def test_a_2xx_without_errors_accepts_everything() -> None:
    assert decide(201, {"message": "success", "attributes_processed": 2}) == Accepted(())


def test_a_2xx_with_errors_names_the_objects_not_processed() -> None:
    body = {
        "message": "success",
        "errors": [
            {"type": "'email' is not a valid email address", "input_array": "attributes", "index": 3},
            {"type": "Event name is missing", "input_array": "events", "index": 0},
            "garbage",
        ],
    }
    assert decide(201, body) == Accepted(
        (
            ObjectError("attributes", 3, "'email' is not a valid email address"),
            ObjectError("events", 0, "Event name is missing"),
        )
    )


def test_braze_documented_202_queued_is_an_acceptance() -> None:
    assert decide(202, {"message": "queued"}) == Accepted(())


@pytest.mark.parametrize("body", [None, ["success"], "success", 201])
def test_a_2xx_whose_body_is_not_a_json_object_is_retried(body: object) -> None:
    # None: no body, or not JSON at all (an HTML page, a cut body); the client parses, decide sees None
    assert decide(200, body) == Retry("not_json_2xx")


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_request_braze_refuses_as_a_whole_is_split(status: int) -> None:
    outcome = decide(status, {"message": "too many objects"})
    assert outcome == Split(status, "too many objects")


def test_a_429_is_a_pause_never_a_failure() -> None:
    assert decide(429, None) == RateLimited()


@pytest.mark.parametrize(
    ("status", "failure", "reason"),
    [
        (500, None, "status_500"),
        (503, None, "status_503"),
        (408, None, "status_408"),
        (None, "timeout", "timeout"),
        (None, "connection_error", "connection_error"),
    ],
)
def test_braze_being_down_is_retried(status: int | None, failure: str | None, reason: str) -> None:
    assert decide(status, None, failure=failure) == Retry(reason)


@pytest.mark.parametrize("status", [401, 403, 404, 301, 307, 308])
def test_a_wrong_key_or_url_is_a_configuration_fault(status: int) -> None:
    outcome = decide(status, {"message": "Invalid API key"})
    assert isinstance(outcome, ConfigFault)
    assert outcome.status == status
