from __future__ import annotations

from rich.console import Console

from komo_braze.bulk import BulkReport, Unusable
from komo_braze.bulk_view import bulk_progress, print_summary


def test_the_summary_counts_and_lists_failures_by_position() -> None:
    console = Console(record=True, width=100)
    report = BulkReport(published=97, failures=[(n, "not valid JSON") for n in range(3, 28)], duration_s=2.0)
    print_summary(console, report, title="published", noun="line")
    text = console.export_text()
    assert "97" in text
    assert "25" in text
    assert "line 3: not valid JSON" in text
    assert "line 22: not valid JSON" in text
    assert "line 23" not in text, "the list stops after 20"
    assert "... and 5 more" in text


def test_a_failure_is_reported_as_it_happens_with_its_position() -> None:
    console = Console(record=True, width=100)
    with bulk_progress(console, total_bytes=None, enabled=False, noun="line") as progress:
        progress(Unusable(12, "body has no site_id"), "body has no site_id")
    assert "line 12: body has no site_id" in console.export_text()
    assert progress.done == 1
