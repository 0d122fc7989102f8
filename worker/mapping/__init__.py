"""Field mapping: Komo submissions become Braze objects, per hub, from a mapping file."""

from __future__ import annotations
