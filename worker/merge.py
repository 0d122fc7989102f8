"""Field-by-field merging of one user's attribute objects (docs/architecture.md, "Coalescing and pacing").

Objects are merged in Komo ``timestamp`` order, so the later submission wins each field it sets. Braze's
array edits and increments are combined rather than overwritten, so that nothing a submission asked for
is lost: ``{"add": [...]}`` / ``{"remove": [...]}`` accumulate (and are kept disjoint, so the order in
which Braze applies them does not matter), ``{"inc": n}`` sums, and ``subscription_groups`` merge per
group id. A plain value after an edit replaces it, as Braze itself would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

UPDATE_EXISTING_ONLY = "_update_existing_only"
SUBSCRIPTION_GROUPS = "subscription_groups"
_EDIT_KEYS = frozenset({"add", "remove"})


def is_edit(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= _EDIT_KEYS


def is_increment(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"inc"} and isinstance(value["inc"], int | float)


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _apply_edit(current: Any, edit: dict[str, Any]) -> Any:
    added, removed = list(edit.get("add", [])), list(edit.get("remove", []))
    if isinstance(current, list):  # a plain list earlier in the batch: apply the edit to it
        return [item for item in _unique([*current, *added]) if item not in removed]
    if is_edit(current):
        old_added, old_removed = current.get("add", []), current.get("remove", [])
        new_added = [item for item in _unique([*old_added, *added]) if item not in removed]
        new_removed = [item for item in _unique([*old_removed, *removed]) if item not in added]
        merged: dict[str, Any] = {}
        if new_added:
            merged["add"] = new_added
        if new_removed:
            merged["remove"] = new_removed
        return merged or {"add": []}
    return {key: list(values) for key, values in edit.items()}


def _merge_groups(current: Any, update: Any) -> Any:
    if not isinstance(current, list) or not isinstance(update, list):
        return update
    by_id: dict[Any, Any] = {}
    for group in [*current, *update]:
        key = group.get("subscription_group_id") if isinstance(group, dict) else id(group)
        by_id.pop(key, None)  # re-insert so the later entry keeps its position at the end
        by_id[key] = group
    return list(by_id.values())


def merge_field(key: str, current: Any, update: Any) -> Any:
    """The value of ``key`` after ``update`` (the later submission) is applied on ``current``."""
    if key == UPDATE_EXISTING_ONLY:
        # one submission that may create the profile is enough: creating must win
        return bool(current) and bool(update)
    if key == SUBSCRIPTION_GROUPS:
        return _merge_groups(current, update)
    if is_edit(update):
        return _apply_edit(current, update)
    if is_increment(update):
        if is_increment(current):
            return {"inc": current["inc"] + update["inc"]}
        if isinstance(current, int | float) and not isinstance(current, bool):
            return current + update["inc"]
    return update


def merge_attributes(objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Merge attribute objects of one user, given oldest first."""
    merged: dict[str, Any] = {}
    for obj in objects:
        for key, value in obj.items():
            merged[key] = merge_field(key, merged[key], value) if key in merged else value
    return merged
