"""The consumer: map, coalesce, pace, send to Braze, decide every message's fate."""

from __future__ import annotations
