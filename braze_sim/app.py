"""The simulator's aiohttp application: ``POST /users/track``, the admin endpoints under ``/_sim/``,
and ``GET /healthz``."""

from __future__ import annotations

from aiohttp import web

from braze_sim.admin import add_admin_routes
from braze_sim.config import SimConfig
from braze_sim.simulator import SIM_KEY, Simulator
from braze_sim.track import handle_track


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(config: SimConfig) -> web.Application:
    """A fresh simulator serving ``config``; its :class:`Simulator` is ``app[SIM_KEY]``."""
    # the body limit is checked by the handler (413 after authentication, as Braze answers it);
    # aiohttp's own limit only has to be no lower
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    simulator = Simulator(config)
    app[SIM_KEY] = simulator
    app.on_shutdown.append(simulator.on_shutdown)
    app.router.add_post("/users/track", handle_track)
    app.router.add_get("/healthz", _healthz)
    add_admin_routes(app)
    return app
