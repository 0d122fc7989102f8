from __future__ import annotations

from pathlib import Path

import pytest

from tests.worker.mapping.samples import EXAMPLE_MAPPING, body, envelope, mapping
from worker.mapping import MappingErrorKind, MappingFailure, MappingFileError, WorkspaceSpec, load_mapping

TWO_WORKSPACES = """\
workspaces:
  client_b: {url: "https://rest.fra-01.braze.eu/", api_key_env: CLIENT_B_BRAZE_KEY}
  client_c: {url: "https://rest.iad-03.braze.com", api_key_env: CLIENT_C_BRAZE_KEY}
  client_d: {url: "http://127.0.0.1:9911", api_key_env: CLIENT_D_BRAZE_KEY}
hubs:
  hub-b1: {workspace: client_b, identify: {by: email, field: email}}
  hub-b2: {workspace: client_b, identify: {by: email, field: email}}
  hub-c: {workspace: client_c, identify: {by: email, field: email}}
  hub-default: {workspace: default, identify: {by: email, field: email}}
  "*": {workspace: client_c, identify: {by: email, field: email}}
"""


def test_the_example_mapping_loads() -> None:
    config = load_mapping(EXAMPLE_MAPPING)
    assert config.source == str(EXAMPLE_MAPPING)
    assert config.workspaces == {
        "default": WorkspaceSpec("default", None, None),
        "client_b": WorkspaceSpec("client_b", "https://rest.fra-01.braze.eu", "CLIENT_B_BRAZE_KEY"),
    }
    assert config.workspace_hubs() == {"client_b": ["2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"]}


def test_workspaces_and_the_hubs_bound_to_them() -> None:
    config = mapping(TWO_WORKSPACES)
    assert config.workspaces["client_b"].url == "https://rest.fra-01.braze.eu"  # no trailing slash
    assert config.workspaces["default"] == WorkspaceSpec("default", None, None)
    assert config.workspace_hubs() == {"client_b": ["hub-b1", "hub-b2"], "client_c": ["hub-c"], "client_d": []}
    assert config.any_hub_workspace == "client_c"
    assert config.hub_ids == ["hub-b1", "hub-b2", "hub-c", "hub-default"]
    assert [config.workspace_of(hub) for hub in ("hub-b2", "hub-default", "elsewhere")] == [
        "client_b",
        "default",
        "client_c",
    ]


def test_default_is_listed_only_when_a_hub_uses_it() -> None:
    config = mapping(
        "workspaces:\n  b: {url: 'https://rest.fra-01.braze.eu', api_key_env: B_KEY}\n"
        'hubs:\n  "*": {workspace: b, identify: {by: email, field: email}}\n'
    )
    assert list(config.workspaces) == ["b"]


def test_without_star_other_hubs_are_unmapped() -> None:
    config = mapping("hubs:\n  hub-1: {identify: {by: email, field: email}}\n")
    assert config.any_hub_workspace is None
    assert config.workspace_of("hub-2") is None
    result = config.map(envelope(body(site_id="hub-2")))
    assert isinstance(result, MappingFailure)
    assert result.kind is MappingErrorKind.UNMAPPED_HUB


def test_a_file_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text('hubs:\n  "*":\n    identify: {by: email, field: email}\n    attributes: {a: $a}\n')
    with pytest.raises(MappingFileError) as raised:
        load_mapping(path)
    assert str(raised.value) == f"{path}:4: attribute name '$a' starts with '$', which Braze refuses"


def test_a_missing_file_is_a_mapping_file_error(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match=r"cannot read the mapping file: No such file"):
        load_mapping(tmp_path / "missing.yaml")


def test_a_file_that_is_not_utf8_is_a_mapping_file_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("hubs:\n  café: {}\n".encode("latin-1"))
    with pytest.raises(MappingFileError, match="cannot read the mapping file: UnicodeDecodeError"):
        load_mapping(path)
