"""Load-time errors of the file's structure: top level, workspaces, hubs and identify rules."""

from __future__ import annotations

import pytest

from tests.worker.mapping.errors import HUB, assert_load_error
from tests.worker.mapping.samples import mapping

CASES = [
    # the file
    ("", 1, "the mapping is empty"),
    ("hubs:\n  '*':\n    identify: {by: email, field: email}\nhub:\n  x: 1\n", 4, "unknown key 'hub' in the mapping"),
    ("workspaces: {}\n", 1, "the mapping needs 'hubs'"),
    ("hubs: [a, b]\n", 1, "hubs must be a map"),
    ("hubs: {}\n", 1, "hubs must name at least one hub"),
    ("- just\n- a list\n", 1, "the mapping must be a map"),
    ('hubs:\n  "":\n    identify: {by: email, field: email}\n', 2, "must not be empty"),
    ('hubs:\n  "site #1":\n    identify: {by: email, field: email}\n', 2, "which broker bindings cannot name"),
    ('hubs:\n  "*.b":\n    identify: {by: email, field: email}\n', 2, "holds '*', '#' or a space"),
    # workspaces
    (
        "workspaces:\n  default: {url: 'https://x.braze.com', api_key_env: K}\n" + HUB,
        2,
        "workspace 'default' comes from",
    ),
    ("workspaces:\n  client b: {url: 'https://x.braze.com', api_key_env: K}\n" + HUB, 2, "letters, digits"),
    ("workspaces:\n  b:\n    url: 'https://x.braze.com'\n" + HUB, 3, "workspace 'b' needs 'api_key_env'"),
    ("workspaces:\n  b: {url: x, api_key_env: K, region: eu}\n" + HUB, 2, "unknown key 'region' in workspace 'b'"),
    (
        "workspaces:\n  b:\n    url: rest.fra-01.braze.eu\n    api_key_env: K\n" + HUB,
        3,
        "url must be the workspace's REST",
    ),
    (
        "workspaces:\n  b:\n    url: https://x.braze.com\n    api_key_env: the key\n" + HUB,
        4,
        "name of an environment variable",
    ),
    # hubs
    (HUB + "    atributes: {a: b}\n", 4, "unknown key 'atributes' in hub '*'"),
    ("hubs:\n  site-1:\n    attributes: {a: b}\n", 3, "hub 'site-1' needs 'identify'"),
    (HUB + "    workspace: client_c\n", 4, "workspace 'client_c' is not declared (declared: none)"),
    (HUB + "    default_region: Australia\n", 4, "default_region 'AUSTRALIA' is not a country code"),
    (HUB + "    update_existing_only: sometimes\n", 4, "update_existing_only must be true or false"),
    (HUB + "    skip_unchanged: often\n", 4, "skip_unchanged must be true or false"),
    ('hubs:\n  "*": email\n', 2, "hub '*' must be a map"),
    # identify rules
    ('hubs:\n  "*":\n    identify: {by: cookie, field: c}\n', 3, "by must be one of external_id, braze_id, alias"),
    ('hubs:\n  "*":\n    identify: {by: email}\n', 3, "an identify rule needs 'field'"),
    ('hubs:\n  "*":\n    identify: []\n', 3, "identify needs at least one rule"),
    (
        'hubs:\n  "*":\n    identify:\n      - {by: external_id, field: id}\n      - {by: alias, field: email}\n',
        5,
        "an alias rule needs a label",
    ),
    ('hubs:\n  "*":\n    identify: {by: email, field: email, label: email}\n', 3, "'label' is only for alias rules"),
    ('hubs:\n  "*":\n    identify: {by: external_id, field: id, type: email}\n', 3, "'type' is only for alias rules"),
    (
        'hubs:\n  "*":\n    identify: {by: alias, field: e, label: email, type: uuid}\n',
        3,
        "type must be one of string, email, phone",
    ),
    ('hubs:\n  "*":\n    identify: {by: alias, field: e, label: "' + "l" * 256 + '"}\n', 3, "label is longer than 255"),
    ('hubs:\n  "*":\n    identify: {by: email, field: [email]}\n', 3, "field must be text"),
    (
        HUB + "    attributes:\n      email: first_name\n      work_email: email\n",
        6,
        "Braze would read both as the identifier",
    ),
    (
        'hubs:\n  "*":\n    identify: {by: phone, field: mobile}\n    attributes:\n      home_phone: phone\n',
        5,
        "comes from field 'home_phone'",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), CASES)
def test_a_structural_mistake_stops_the_load_at_its_line(text: str, line: int, fragment: str) -> None:
    assert_load_error(text, line, fragment)


def test_declared_workspaces_are_listed_when_a_hub_names_another() -> None:
    text = "workspaces:\n  b: {url: 'https://x.braze.com', api_key_env: B_KEY}\n" + HUB + "    workspace: c\n"
    assert_load_error(text, 6, "workspace 'c' is not declared (declared: b)")


def test_an_identifier_may_also_be_an_attribute_from_the_same_field() -> None:
    config = mapping(HUB + "    attributes:\n      email: email\n")
    assert config.workspace_of("any hub") == "default"


def test_the_region_is_read_as_text_so_norway_is_not_false() -> None:
    mapping(HUB + "    default_region: NO\n")
