from __future__ import annotations

import datetime

import pytest

from worker.mapping.source import MappingFileError, Problem, read_yaml


def test_every_value_knows_its_line() -> None:
    root = read_yaml("hubs:\n  '*':\n    identify: {by: email, field: email}\n    update_existing_only: true\n")
    assert root is not None
    hub = root.entries()["hubs"].entries()["*"]
    assert hub.line == 3
    assert hub.key_lines == {"identify": 3, "update_existing_only": 4}
    assert hub.entries()["identify"].entries()["field"].line == 3
    assert hub.entries()["update_existing_only"].value is True


def test_scalars_keep_the_text_as_written() -> None:
    root = read_yaml("default_region: NO\nborn: 1990-05-17\nscore: '007'\n")
    assert root is not None
    region, born, score = (root.entries()[key] for key in ("default_region", "born", "score"))
    assert (region.value, region.text) == (False, "NO")  # YAML 1.1 reads Norway as false; the text stays
    assert born.value == datetime.date(1990, 5, 17)
    assert born.text == "1990-05-17"
    assert (score.value, score.text) == ("007", "007")


def test_keys_are_read_as_written_not_as_yaml_types() -> None:
    root = read_yaml("on: a\n12345: b\nnull: c\n")
    assert root is not None
    assert list(root.entries()) == ["on", "12345", "null"]


def test_an_empty_document_is_none() -> None:
    assert read_yaml("") is None
    assert read_yaml("# only a comment\n") is None


def test_a_duplicate_key_names_both_lines() -> None:
    with pytest.raises(Problem) as raised:
        read_yaml("hubs:\n  a: 1\n  b: 2\n  a: 3\n")
    assert raised.value.line == 4
    assert "duplicate key 'a' (first at line 2)" in raised.value.problem


def test_merge_keys_let_hubs_share_a_block() -> None:
    text = (
        "base: &base\n"
        "  identify: {by: email, field: email}\n"
        "  default_region: AU\n"
        "hub:\n"
        "  <<: *base\n"
        "  default_region: NZ\n"
    )
    root = read_yaml(text)
    assert root is not None
    hub = root.entries()["hub"].entries()
    assert hub["default_region"].text == "NZ"  # the hub's own key wins over the merged one
    assert hub["identify"].line == 2  # a merged value points at where it was written


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("hubs:\n  a: [1, 2\n", 3),
        ("hubs:\n  a: 1\n b: 2\n", 3),
        ("a: 1\n---\nb: 2\n", 2),
        ("a: !!python/object:os.system x\n", 1),
        ("a: *nowhere\n", 1),
    ],
)
def test_yaml_syntax_errors_name_their_line(text: str, line: int) -> None:
    with pytest.raises(Problem) as raised:
        read_yaml(text)
    assert raised.value.line == line
    assert raised.value.problem.startswith("not valid YAML")


def test_non_text_keys_are_refused() -> None:
    with pytest.raises(Problem, match="a key must be plain text") as raised:
        read_yaml("hubs:\n  ? [a, b]\n  : 1\n")
    assert raised.value.line == 2


def test_a_recursive_alias_is_refused_not_followed_forever() -> None:
    with pytest.raises(Problem, match="nests too deeply"):
        read_yaml("a: &loop\n  - *loop\n")


def test_the_error_message_reads_file_line_problem() -> None:
    assert str(MappingFileError("mapping.yaml", 7, "unknown key 'x'")) == "mapping.yaml:7: unknown key 'x'"
    assert str(MappingFileError("mapping.yaml", None, "cannot read")) == "mapping.yaml: cannot read"
