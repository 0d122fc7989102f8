from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from devtools.components import KOMO_BRAZE
from tests.worker.mapping.samples import EXAMPLE_MAPPING, OTHER_HUB, body
from worker.mapping.cli import mapping_group


def write_json(path: Path, data: Any) -> Path:
    path.write_bytes(orjson.dumps(data))
    return path


def check(*args: str) -> Result:
    return CliRunner().invoke(mapping_group, ["check", *args])


def request_in(output: str) -> dict[str, Any]:
    """The first /users/track body printed after 'POST /users/track'."""
    text = output.split("POST /users/track\n", 1)[1]
    decoded, _ = json.JSONDecoder().raw_decode(text)
    assert isinstance(decoded, dict)
    return decoded


def test_a_good_file_without_samples_is_described() -> None:
    result = check(str(EXAMPLE_MAPPING))
    assert result.exit_code == 0, result.output
    assert f"{EXAMPLE_MAPPING}: ok" in result.stdout
    assert "workspace client_b: https://rest.fra-01.braze.eu, key in $CLIENT_B_BRAZE_KEY" in result.stdout
    assert "hub 2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11 -> workspace client_b" in result.stdout
    assert 'hub "*" (any other) -> workspace default' in result.stdout


def test_a_sample_shows_the_objects_braze_would_get(tmp_path: Path) -> None:
    sample = write_json(tmp_path / "body.json", body())
    result = check(str(EXAMPLE_MAPPING), "--sample", str(sample))
    assert result.exit_code == 0, result.output
    request = request_in(result.stdout)
    assert request["attributes"] == [
        {
            "email": "joe@bloggs.com",
            "komo_source": "summer-hub",
            "first_name": "Joe",
            "last_name": "Bloggs",
            "email_subscribe": "opted_in",
            "komo_last_score": 1,
        }
    ]
    assert request["events"][0]["name"] == "komo_quiz_completed"
    assert "1 sample file(s), 0 problem(s)" in result.stdout


def test_rejected_fields_are_listed_and_fail_the_check(tmp_path: Path) -> None:
    sample = write_json(tmp_path / "body.json", body(site_id=OTHER_HUB, mobile="12345", country="Atlantis"))
    result = check(str(EXAMPLE_MAPPING), "--sample", str(sample))
    assert result.exit_code == 1
    assert "rejected: phone: not a valid phone number" in result.stderr
    assert "rejected: country: not a known country" in result.stderr
    assert "phone" not in request_in(result.stdout)["attributes"][0]


def test_a_sample_without_identifier_fails_the_check(tmp_path: Path) -> None:
    sample = write_json(tmp_path / "body.json", body(email=None))
    result = check(str(EXAMPLE_MAPPING), "--sample", str(sample))
    assert result.exit_code == 1
    assert "error: no_identifier: no value in email (the worker would dead-letter it)" in result.stderr


def test_samples_may_be_a_list_or_ndjson(tmp_path: Path) -> None:
    listed = write_json(tmp_path / "list.json", [body(), body(site_id=OTHER_HUB)])
    lines = tmp_path / "bodies.ndjson"
    lines.write_bytes(orjson.dumps(body()) + b"\n\n" + orjson.dumps(body(email="joe@")) + b"\n")
    result = check(str(EXAMPLE_MAPPING), "--sample", str(listed), "--sample", str(lines))
    assert result.exit_code == 1  # the second NDJSON body has an invalid identifier
    assert f"== {listed} #2" in result.stdout
    assert f"== {lines} #2" in result.stdout
    assert "error: invalid_identifier: email (email): not a valid email address" in result.stderr
    assert "2 sample file(s), 1 problem(s)" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json at all", "error: not JSON, a JSON list or NDJSON"),
        (b'"a string"', "error: not a Komo submission the producer would accept: body is not a JSON object"),
        (b'{"email": "joe@bloggs.com"}', "error: not a Komo submission the producer would accept: body has no"),
    ],
)
def test_a_sample_that_is_not_a_komo_body_fails_the_check(tmp_path: Path, content: bytes, message: str) -> None:
    sample = tmp_path / "body.json"
    sample.write_bytes(content)
    result = check(str(EXAMPLE_MAPPING), "--sample", str(sample))
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_bad_mapping_exits_2_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text('hubs:\n  "*":\n    identify: {by: email, field: email}\n    attributes:\n      a: {type: text}\n')
    result = check(str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:5: unknown type 'text'")


def test_the_command_runs_as_a_real_process(tmp_path: Path) -> None:
    sample = write_json(tmp_path / "body.json", body(site_id=OTHER_HUB, mobile="0412 345 678"))
    done = subprocess.run(
        [*KOMO_BRAZE, "mapping", "check", str(EXAMPLE_MAPPING), "--sample", str(sample)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    attributes = request_in(done.stdout)["attributes"][0]
    assert attributes["user_alias"] == {"alias_name": "joe@bloggs.com", "alias_label": "email"}
    assert attributes["_update_existing_only"] is False
    assert attributes["phone"] == "+61412345678"
    broken = subprocess.run(
        [*KOMO_BRAZE, "mapping", "check", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode == 2
    assert "cannot read the mapping file" in broken.stderr
