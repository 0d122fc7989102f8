"""A local stand-in for Braze /users/track that enforces the documented rules."""

from __future__ import annotations
