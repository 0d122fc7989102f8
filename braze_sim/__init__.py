"""A local stand-in for Braze ``POST /users/track`` that enforces the documented rules.

It answers as Braze does (status codes, ``errors[]``, ``X-RateLimit-*``), keeps the profiles, events
and purchases Braze would hold, and fails on demand (5xx, latency, hangs, 401/403 windows, outages,
429 storms), or answers a share of requests as a broken proxy or edge would (hostile mode,
:mod:`braze_sim.hostile`). Entry points: :func:`braze_sim.app.create_app`, :func:`braze_sim.testing.running_sim`,
:class:`braze_sim.client.SimClient`, and ``komo-braze braze-sim`` (:mod:`braze_sim.cli`).
"""

from __future__ import annotations
