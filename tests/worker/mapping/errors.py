"""Asserting on load-time errors: the message must read ``test.yaml:<line>: <problem>``."""

from __future__ import annotations

import textwrap

import pytest

from worker.mapping import MappingConfig, MappingFileError

#: a valid hub; whatever a test appends starts at line 4
HUB = 'hubs:\n  "*":\n    identify: {by: email, field: email}\n'


def assert_load_error(text: str, line: int, fragment: str) -> None:
    with pytest.raises(MappingFileError) as raised:
        MappingConfig.from_text(textwrap.dedent(text), "test.yaml")
    error = raised.value
    assert str(error).startswith(f"test.yaml:{line}: "), str(error)
    assert fragment in error.problem, str(error)
    assert (error.source, error.line) == ("test.yaml", line)
