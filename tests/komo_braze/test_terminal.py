from __future__ import annotations

import orjson
import pytest
from rich.console import Console

from komo_braze.terminal import cell, printable, printable_json

HOSTILE = {
    "\x1b[2Jhub": "\\x1b[2Jhub",  # ESC: clears the screen
    "two\nlines\r\ttab": "two\\nlines\\r\\ttab",
    "c1\x9b31m": "c1\\x9b31m",  # CSI as a C1 control
    "del\x7f nul\x00": "del\\x7f nul\\x00",
    "abc\u202edcba": "abc\\u202edcba",  # right-to-left override
    "iso\u2066late\u2069": "iso\\u2066late\\u2069",
    "zero\u200bwidth": "zero\\u200bwidth",
    "line\u2028sep": "line\\u2028sep",
    "tag\U000e0041": "tag\\U000e0041",
}


@pytest.mark.parametrize(("raw", "shown"), HOSTILE.items())
def test_control_format_and_separator_characters_are_shown_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_text_in_any_script_is_left_as_it_is() -> None:
    for text in ("hub-a", "Zoë Ångström-Nguyễn", "例子.广告", "עברית", "[red]not markup[/red]", "a\\x1b"):
        assert printable(text) == text


def test_a_table_cell_is_never_read_as_markup() -> None:
    console = Console(width=80, record=True, force_terminal=False)
    console.print(cell("[/]"), cell("[red]x[/red]"), cell("\x1b[2J"))
    assert console.export_text() == "[/] [red]x[/red] \\x1b[2J\n"


def test_json_for_a_terminal_is_the_same_json_with_nothing_raw() -> None:
    record = {"hub\u202e": list(HOSTILE), "emoji": "🙂", "tag": "\U000e0041"}
    text = orjson.dumps(record, option=orjson.OPT_INDENT_2).decode()
    safe = printable_json(text)
    assert orjson.loads(safe) == record
    assert all(char.isprintable() or char == "\n" for char in safe)
    assert "🙂" in safe
