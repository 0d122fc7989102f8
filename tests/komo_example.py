"""Komo's documented form-submission webhook body, verbatim, for tests.

It lives once, in ``examples/komo-body.json``, the sample README's examples use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: the hub (``site_id``) of the documented body
SUMMER_HUB = "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"

#: the documented body; copy it (``dict(KOMO_BODY)``) before changing it in a test
KOMO_BODY: dict[str, Any] = orjson.loads((EXAMPLES / "komo-body.json").read_bytes())
