"""Text from messages, for people: every control character escaped (``dlq`` output, bulk summaries).

A dead letter carries what a sender sent: a ``site_id`` with ``ESC [2J`` would clear the operator's
screen, a newline would break a table, a right-to-left override would reorder what follows, and text
such as ``[/]`` would be read as markup by rich (and stop the command). So every character that is not
printable (C0 and C1 controls, ``DEL``, bidi and other format characters, line and paragraph
separators, spaces other than ``" "``) is shown as an escape (``\\x1b``, ``\\n``, ``\\u202e``), and
text bound for a rich table is a :class:`rich.text.Text`, never markup.
"""

from __future__ import annotations

import re

from rich.text import Text

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: JSON's formatting (indentation and line ends) is left alone; anything else non-printable is escaped
_JSON_UNSAFE = re.compile(r"[^\n -~]")


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped; printable text comes back unchanged."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def cell(text: str) -> Text:
    """A table cell showing ``text`` as it is (escaped, no markup)."""
    return Text(printable(text))


def _json_escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable_json(text: str) -> str:
    """JSON text (from orjson) safe for a terminal and still the same JSON: the control, format and
    separator characters orjson writes raw inside strings become ``\\uXXXX`` escapes."""
    return _JSON_UNSAFE.sub(_json_escape, text)
