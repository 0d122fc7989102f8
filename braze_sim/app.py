"""The simulator's aiohttp application: ``POST /users/track``, the admin endpoints under ``/_sim/``,
and ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from aiohttp import web

from braze_sim.admin import add_admin_routes
from braze_sim.config import SimConfig
from braze_sim.simulator import SIM_KEY, Simulator
from braze_sim.track import handle_track
from komo_braze.http import add_health_routes


def create_app(config: SimConfig) -> web.Application:
    """A fresh simulator serving ``config``; its :class:`Simulator` is ``app[SIM_KEY]``."""
    # the body limit is checked by the handler (413 after authentication, as Braze answers it);
    # aiohttp's own limit only has to be no lower
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    simulator = Simulator(config)
    app[SIM_KEY] = simulator
    app.on_shutdown.append(simulator.on_shutdown)
    app.router.add_post("/users/track", handle_track)
    add_health_routes(app, ready=lambda: True)  # /healthz, /readyz, /metrics like every component
    add_admin_routes(app)
    return app
