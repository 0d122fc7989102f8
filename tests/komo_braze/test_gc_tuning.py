from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from komo_braze.gc_tuning import GC_THRESHOLDS, tune_gc
from komo_braze.settings import load_settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def python_defaults() -> Iterator[tuple[int, int, int]]:
    """The collector as Python starts it, put back after the test (tuning is process-wide)."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tuning_freezes_what_start_up_made_and_raises_the_thresholds(python_defaults: tuple[int, int, int]) -> None:
    tune_gc(enabled=True)
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_tuning_turned_off_leaves_the_collector_as_python_set_it(python_defaults: tuple[int, int, int]) -> None:
    tune_gc(enabled=False)
    assert gc.get_threshold() == python_defaults == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_tuning_is_on_unless_the_environment_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOMO_BRAZE_GC_TUNING", raising=False)
    assert load_settings().gc_tuning is True
    monkeypatch.setenv("KOMO_BRAZE_GC_TUNING", "false")
    assert load_settings().gc_tuning is False
