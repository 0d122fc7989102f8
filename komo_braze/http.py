"""The small HTTP pieces producer and worker share: ``/metrics``, ``/healthz``, ``/readyz``, and starting
a site on a port (``0``: a free one) that says which port it bound."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from komo_braze.failures import BindFailed

ReadyCheck = Callable[[], bool]


#: the routes that tell about the process, beyond "it is alive" (the producer guards them on its intake port)
ADMIN_PATHS = frozenset({"/readyz", "/metrics"})


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def add_liveness_route(app: web.Application) -> None:
    """``GET /healthz`` alone: the process is alive (it says nothing else)."""
    app.router.add_get("/healthz", _healthz)


def add_health_routes(app: web.Application, ready: ReadyCheck, registry: CollectorRegistry = REGISTRY) -> None:
    """``GET /healthz`` (process alive), ``GET /readyz`` (``ready()``), ``GET /metrics``."""

    async def readyz(_request: web.Request) -> web.Response:
        if ready():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    add_liveness_route(app)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def start_site(
    app: web.Application, host: str, port: int, *, shutdown_timeout_s: float = 60.0
) -> tuple[web.AppRunner, int]:
    """Start serving ``app``; returns the runner and the bound port (``port=0`` picks a free one).

    Raises :class:`komo_braze.failures.BindFailed` when the address is taken or cannot be bound.
    ``runner.cleanup()`` stops accepting at once, then gives requests in progress up to
    ``shutdown_timeout_s`` to finish.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise BindFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound_port = int(runner.addresses[0][1]) if runner.addresses else port
    return runner, bound_port
