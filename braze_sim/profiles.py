"""User profiles of one workspace, as Braze holds them after applying accepted objects.

Identity (reference: "Identifying the user"): ``external_id``, ``braze_id``, ``user_alias``, else
``email`` (the most recently updated profile with an external_id wins, else the most recently updated),
else ``phone``. ``_update_existing_only`` defaults to false, to true for attribute objects keyed by an
alias, and is always true for events and purchases keyed by an alias.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from braze_sim.formats import country_code, e164, is_time_zone
from braze_sim.standard import STANDARD_ATTRIBUTES
from braze_sim.validation import scan_attribute_object


@dataclass(slots=True, eq=False)
class Profile:
    braze_id: str
    external_id: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # alias_label -> alias_name
    email: str | None = None
    phone: str | None = None
    #: standard and custom attributes together (one dict: one update per object); split when read
    values: dict[str, Any] = field(default_factory=dict)
    subscription_groups: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = 0.0
    updated_seq: int = 0
    event_count: int = 0
    purchase_count: int = 0

    @property
    def standard_attributes(self) -> dict[str, Any]:
        return {key: value for key, value in self.values.items() if key in STANDARD_ATTRIBUTES}

    @property
    def custom_attributes(self) -> dict[str, Any]:
        return {key: value for key, value in self.values.items() if key not in STANDARD_ATTRIBUTES}

    def to_json(self, workspace: str) -> dict[str, Any]:
        return {
            "workspace": workspace,
            "braze_id": self.braze_id,
            "external_id": self.external_id,
            "user_aliases": [{"alias_label": label, "alias_name": name} for label, name in self.aliases.items()],
            "email": self.email,
            "phone": self.phone,
            "attributes": self.standard_attributes,
            "custom_attributes": self.custom_attributes,
            "subscription_groups": dict(self.subscription_groups),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "event_count": self.event_count,
            "purchase_count": self.purchase_count,
        }


_ARRAY_OPERATIONS = frozenset({"add", "remove"})
_INC = frozenset({"inc"})
_TIME = frozenset({"$time"})


def _add_unique(values: list[Any], additions: list[Any]) -> list[Any]:
    """Braze arrays are sets: an element added again moves to the end."""
    for value in additions:
        if value in values:
            values.remove(value)
        values.append(value)
    return values


def _deep_merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_custom(current: Any, value: Any, *, merge_objects: bool) -> Any:
    """The new value of a custom attribute; ``None`` removes it."""
    if isinstance(value, list):
        return _add_unique([], value)
    if not isinstance(value, dict):
        return value
    if value and value.keys() <= _ARRAY_OPERATIONS:
        values = list(current) if isinstance(current, list) else []
        if "add" in value:
            _add_unique(values, value["add"])
        if "remove" in value:
            removed = value["remove"]
            values = [v for v in values if v not in removed]
        return values
    if value.keys() == _INC:
        base = current if isinstance(current, int | float) and not isinstance(current, bool) else 0
        return base + value["inc"]
    if value.keys() == _TIME:
        return value["$time"]
    if merge_objects and isinstance(current, dict):
        return _deep_merge(current, value)
    return value


class ProfileStore:
    """The profiles of one workspace with their identity indexes."""

    def __init__(self) -> None:
        self.by_braze_id: dict[str, Profile] = {}
        self.by_external_id: dict[str, Profile] = {}
        self._by_alias: dict[tuple[str, str], Profile] = {}
        self._by_email: dict[str, set[str]] = {}
        self._by_phone: dict[str, set[str]] = {}
        self.sequence = itertools.count(1)

    def __len__(self) -> int:
        return len(self.by_braze_id)

    # --- identity ---------------------------------------------------------------------------------

    def _latest(self, braze_ids: set[str] | None) -> Profile | None:
        if not braze_ids:
            return None
        candidates = [self.by_braze_id[b] for b in braze_ids]
        return max(candidates, key=lambda p: (p.external_id is not None, p.updated_seq))

    def find(self, obj: dict[str, Any]) -> Profile | None:
        """The profile an (already validated) object names, if it exists."""
        if "external_id" in obj:
            return self.by_external_id.get(obj["external_id"])
        if "braze_id" in obj:
            return self.by_braze_id.get(obj["braze_id"])
        if "user_alias" in obj:
            alias = obj["user_alias"]
            return self._by_alias.get((alias["alias_label"], alias["alias_name"]))
        if "email" in obj:
            return self._latest(self._by_email.get(obj["email"].lower()))
        return self._latest(self._by_phone.get(e164(obj["phone"]) or obj["phone"]))

    def find_or_create(self, obj: dict[str, Any], *, attributes: bool, now: float | None = None) -> Profile | None:
        """The profile to update, created when the rules allow; None when the object is skipped."""
        profile = self.find(obj)
        if profile is not None:
            return profile
        by_alias = "user_alias" in obj
        if by_alias and not attributes:
            return None  # events and purchases keyed by an alias never create a profile
        if obj.get("_update_existing_only", by_alias) or "braze_id" in obj:
            return None  # a braze_id is Braze's to assign: an unknown one names nobody
        profile = Profile(braze_id=secrets.token_hex(12), created_at=time.time() if now is None else now)
        self.by_braze_id[profile.braze_id] = profile
        if "external_id" in obj:
            profile.external_id = obj["external_id"]
            self.by_external_id[profile.external_id] = profile
        elif by_alias:
            alias = obj["user_alias"]
            profile.aliases[alias["alias_label"]] = alias["alias_name"]
            self._by_alias[(alias["alias_label"], alias["alias_name"])] = profile
        elif "email" in obj:
            self._set_email(profile, obj["email"])
        else:
            self._set_phone(profile, obj["phone"])
        return profile

    def _set_email(self, profile: Profile, email: str | None) -> None:
        if email == profile.email:
            return
        if profile.email is not None:
            self._by_email.get(profile.email.lower(), set()).discard(profile.braze_id)
        profile.email = email
        if email is not None:
            self._by_email.setdefault(email.lower(), set()).add(profile.braze_id)

    def _set_phone(self, profile: Profile, phone: str | None) -> None:
        if phone == profile.phone:
            return
        if profile.phone is not None:
            self._by_phone.get(e164(profile.phone) or profile.phone, set()).discard(profile.braze_id)
        profile.phone = phone
        if phone is not None:
            self._by_phone.setdefault(e164(phone) or phone, set()).add(profile.braze_id)

    # --- updates ----------------------------------------------------------------------------------

    def touch(self, profile: Profile, now: float | None = None) -> None:
        profile.updated_seq = next(self.sequence)
        profile.updated_at = time.time() if now is None else now

    def apply_attributes(self, profile: Profile, obj: dict[str, Any], now: float | None = None) -> None:
        """Merge one valid attribute object into ``profile``."""
        _errors, plain, special = scan_attribute_object(obj)
        self.apply_scanned(profile, obj, plain, special, now)

    def apply_scanned(
        self, profile: Profile, obj: dict[str, Any], plain: dict[str, Any], special: list[str], now: float | None
    ) -> None:
        """Merge an attribute object already split by :func:`scan_attribute_object`."""
        values = profile.values
        values.update(plain)
        for key in special:
            value = obj[key]
            if key == "email":
                if value != profile.email:
                    self._set_email(profile, value)
            elif key in STANDARD_ATTRIBUTES:
                self._apply_standard(profile, key, value)
            elif value is None:
                values.pop(key, None)
            elif type(value) is dict and len(value) == 1 and "add" in value:  # the common array edit, inline
                current = values.get(key)
                values[key] = _add_unique(list(current) if type(current) is list else [], value["add"])
            else:
                values[key] = merge_custom(values.get(key), value, merge_objects=obj.get("_merge_objects") is True)
        profile.updated_seq = next(self.sequence)
        profile.updated_at = time.time() if now is None else now

    def _apply_standard(self, profile: Profile, key: str, value: Any) -> None:
        if key == "email":
            self._set_email(profile, value)
            return
        if key == "phone":
            self._set_phone(profile, value)
            return
        if key == "subscription_groups":
            for group in value:
                profile.subscription_groups[group["subscription_group_id"]] = group["subscription_state"]
            return
        if value is not None:
            if key == "country":
                value = country_code(value)  # other spellings guessed, unknown ones set to null
            elif key == "gender":
                value = value.upper()
            elif key == "language":
                value = value.lower()
            elif key == "time_zone" and not is_time_zone(value):
                return  # only valid time zones are set
        if value is None:
            profile.values.pop(key, None)
        else:
            profile.values[key] = value

    def all(self) -> list[Profile]:
        return list(self.by_braze_id.values())
