"""``python -m komo_braze.healthcheck [URL ...]``: the container image's ``HEALTHCHECK``.

The slim image has no curl, and one image runs every command, so the check cannot know which port its
process serves: it asks ``/healthz`` on each bind the settings name for a health route (the producer's
admin bind, else its intake bind; the worker's metrics bind) and is healthy when one answers 200.
A container holds one process, so the first that answers is that process. With URLs given (e.g. for
``braze-sim``) it asks those instead. Exit status 0: healthy; 1: nothing answered (each reason on stderr).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from komo_braze.settings import HostPort, Settings, SettingsError, load_settings

HEALTH_PATH = "/healthz"
TIMEOUT_S = 3.0


def health_urls(settings: Settings) -> list[str]:
    """``/healthz`` of every bind the settings give a health route, in the order to ask them."""
    binds: list[HostPort] = [settings.producer_admin_bind or settings.producer_bind, settings.worker_metrics_bind]
    urls: list[str] = []
    for bind in binds:
        host = "127.0.0.1" if bind.host in ("0.0.0.0", "::", "") else bind.host
        url = f"http://{HostPort(host, bind.port)}{HEALTH_PATH}"
        if url not in urls:
            urls.append(url)
    return urls


def answers(url: str) -> str | None:
    """``None`` when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - http URLs we built
            return None if response.status == 200 else f"status {response.status}"
    except urllib.error.HTTPError as exc:
        return f"status {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return str(reason)


def check(urls: Sequence[str]) -> int:
    problems = []
    for url in urls:
        problem = answers(url)
        if problem is None:
            return 0
        problems.append(f"{url}: {problem}")
    print("unhealthy: " + "; ".join(problems), file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        return check(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return check(health_urls(settings))


if __name__ == "__main__":
    sys.exit(main())
