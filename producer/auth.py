"""Who may post submissions: a bearer token (several, for rotation) and/or an HMAC-SHA256 signature.

Komo documents no signature on its webhooks, so a shared bearer token is the usual credential; a sender
that can sign sends ``X-Komo-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, or, with
``X-Komo-Timestamp: <Unix seconds>``, of ``timestamp + "." + body`` (see :mod:`producer.replay` for the
window and replays). When both are
configured either credential suffices, but every credential a request presents must be right. Every
comparison is constant-time and the caller learns only "401", never which part was wrong.

With neither configured the intake is open, which is allowed only on a loopback bind.

``/readyz`` and ``/metrics`` served on the intake port (no ``KOMO_BRAZE_PRODUCER_ADMIN_BIND``) ask the
same credentials as the intake, checked against an empty body: a bearer token, or the signature of
``b""`` (what Prometheus or a probe can send). ``/healthz`` says only "alive" and stays open.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from komo_braze.failures import ConfigurationInvalid
from komo_braze.settings import Settings
from producer.replay import TIMESTAMP_HEADER

SIGNATURE_HEADER = "X-Komo-Signature"
SIGNATURE_SCHEME = "sha256="
BEARER_SCHEME = "bearer "


class UnsafeBind(ConfigurationInvalid):
    """The intake would be open to the network without any credential."""


class Authenticator:
    def __init__(self, tokens: list[bytes], hmac_secret: bytes | None) -> None:
        self._tokens = tokens
        self._hmac_secret = hmac_secret

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        secret = settings.webhook_hmac_secret
        return cls(
            [token.get_secret_value().encode() for token in settings.webhook_token],
            secret.get_secret_value().encode() if secret is not None else None,
        )

    @property
    def enabled(self) -> bool:
        return bool(self._tokens) or self._hmac_secret is not None

    @property
    def mode(self) -> str:
        """A description for the start-up log: which credentials are checked (never their values)."""
        parts = []
        if self._tokens:
            parts.append(f"bearer token ({len(self._tokens)} accepted)")
        if self._hmac_secret is not None:
            parts.append("hmac-sha256 signature")
        return " or ".join(parts) or "none"

    def allows(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a request with these headers and raw body may post."""
        if not self.enabled:
            return True
        authorization = headers.get("Authorization")
        signature = headers.get(SIGNATURE_HEADER)
        verdicts: list[bool] = []
        if authorization is not None:
            verdicts.append(bool(self._tokens) and self._token_matches(authorization))
        if signature is not None:
            timestamp = headers.get(TIMESTAMP_HEADER)
            verdicts.append(self._hmac_secret is not None and self._signature_matches(signature, timestamp, body))
        return bool(verdicts) and all(verdicts)

    def signature_checked(self, headers: Mapping[str, str]) -> str | None:
        """The signature of a request :meth:`allows` let through by its signature, else ``None``."""
        return headers.get(SIGNATURE_HEADER) if self._hmac_secret is not None else None

    def _token_matches(self, authorization: str) -> bool:
        if authorization[: len(BEARER_SCHEME)].lower() != BEARER_SCHEME:
            return False
        presented = authorization[len(BEARER_SCHEME) :].strip().encode("utf-8", "replace")
        matched = False
        for token in self._tokens:  # compare against all of them: no early exit to time
            matched |= hmac.compare_digest(presented, token)
        return matched

    def _signature_matches(self, signature: str, timestamp: str | None, body: bytes) -> bool:
        assert self._hmac_secret is not None
        presented = signature.strip()
        if presented[: len(SIGNATURE_SCHEME)].lower() != SIGNATURE_SCHEME:
            return False
        expected = signature_hex(self._hmac_secret, timestamp, body).encode()
        return hmac.compare_digest(presented[len(SIGNATURE_SCHEME) :].lower().encode("utf-8", "replace"), expected)


def signature_hex(key: bytes, timestamp: str | None, body: bytes) -> str:
    """The hex HMAC-SHA256 of what a signature covers: the body, or ``timestamp + "." + body`` when a
    timestamp is sent (fed in parts, so the body is not copied)."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    if timestamp is not None:
        mac.update(timestamp.strip().encode("utf-8", "replace") + b".")
    mac.update(body)
    return mac.hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Komo-Signature`` value for ``body`` (for senders, tests and the demo); with ``timestamp``,
    the value for a request that sends ``X-Komo-Timestamp: <timestamp>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return SIGNATURE_SCHEME + signature_hex(key, None if timestamp is None else str(timestamp), body)


def check_bind(settings: Settings, authenticator: Authenticator) -> None:
    """Refuse an open intake on anything but a loopback bind; raises :class:`UnsafeBind`."""
    if authenticator.enabled or settings.producer_bind.is_loopback:
        return
    raise UnsafeBind(
        f"refusing to start: KOMO_BRAZE_PRODUCER_BIND={settings.producer_bind} is not a loopback address and "
        "neither KOMO_BRAZE_WEBHOOK_TOKEN nor KOMO_BRAZE_WEBHOOK_HMAC_SECRET is set; set one of them, "
        "or bind to 127.0.0.1"
    )


def guard_paths(authenticator: Authenticator, paths: Collection[str]) -> Middleware:
    """An aiohttp middleware answering ``401`` on ``paths`` to a request without the intake's credentials."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in paths and not authenticator.allows(request.headers, b""):
            return web.json_response({"error": "missing or invalid credentials"}, status=401)
        return await handler(request)

    return guard
