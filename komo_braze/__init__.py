"""komo-braze: carries Komo engagement-hub submissions into Braze user profiles."""

from __future__ import annotations

__version__ = "0.1.0"
