from __future__ import annotations

from io import StringIO

from rich.console import Console

from komo_braze.deadletter import DeadLetter
from tests.worker.dlq.letters import dead_letter, spec
from worker.dlq.stats import Stats, list_header, list_line, list_row, render_stats


def letters(count: int) -> list[DeadLetter]:
    return [DeadLetter.from_message(dead_letter(spec(n))) for n in range(count)]


def test_stats_sum_up_kinds_hubs_workspaces_and_the_failure_window() -> None:
    stats = Stats(depth=9)
    for letter in letters(9):
        stats.add(letter)
    data = stats.to_dict()
    assert data["total"] == 9
    assert data["by_kind"] == {"braze_rejected": 3, "no_identifier": 3, "unmapped_hub": 3}
    assert data["by_hub"] == {"hub-a": 3, "hub-b": 3, "hub-c": 3}
    assert data["by_workspace"] == {"default": 7, "client_b": 2}
    assert (data["oldest_failure"], data["newest_failure"]) == ("2026-11-01T00:00:00.000Z", "2026-11-01T00:08:00.000Z")


def test_a_partial_read_says_so() -> None:
    stats = Stats(depth=5_000_000, complete=False)
    for letter in letters(2):
        stats.add(letter)
    out = StringIO()
    render_stats(stats, "komo.dead", Console(file=out, width=120))
    assert "read 2 of 5,000,000 letters" in out.getvalue()


def test_a_list_line_masks_the_detail_unless_revealed() -> None:
    [letter] = letters(1)
    masked, revealed = list_row(letter), list_row(letter, reveal=True)
    assert masked["detail"] == "Invalid email address u***@e***.com"
    assert revealed["detail"] == "Invalid email address user0@example.com"
    line = list_line(masked)
    assert line.startswith("sub-000000")
    assert "braze_rejected" in line
    assert list_header().startswith("SUBMISSION_ID")
