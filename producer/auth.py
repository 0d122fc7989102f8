"""Who may post submissions: a bearer token (several, for rotation) and/or an HMAC-SHA256 signature.

Komo documents no signature on its webhooks, so a shared bearer token is the usual credential; a sender
that can sign sends ``X-Komo-Signature: sha256=<hex HMAC-SHA256 of the raw body>``. When both are
configured either credential suffices, but every credential a request presents must be right. Every
comparison is constant-time and the caller learns only "401", never which part was wrong.

With neither configured the intake is open, which is allowed only on a loopback bind.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from komo_braze.failures import ConfigurationInvalid
from komo_braze.settings import Settings

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
            verdicts.append(self._hmac_secret is not None and self._signature_matches(signature, body))
        return bool(verdicts) and all(verdicts)

    def _token_matches(self, authorization: str) -> bool:
        if authorization[: len(BEARER_SCHEME)].lower() != BEARER_SCHEME:
            return False
        presented = authorization[len(BEARER_SCHEME) :].strip().encode("utf-8", "replace")
        matched = False
        for token in self._tokens:  # compare against all of them: no early exit to time
            matched |= hmac.compare_digest(presented, token)
        return matched

    def _signature_matches(self, signature: str, body: bytes) -> bool:
        assert self._hmac_secret is not None
        presented = signature.strip()
        if presented[: len(SIGNATURE_SCHEME)].lower() != SIGNATURE_SCHEME:
            return False
        expected = hmac.new(self._hmac_secret, body, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(presented[len(SIGNATURE_SCHEME) :].lower().encode("utf-8", "replace"), expected)


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Komo-Signature`` value for ``body`` (for senders, tests and the demo)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return SIGNATURE_SCHEME + hmac.new(key, body, hashlib.sha256).hexdigest()


def check_bind(settings: Settings, authenticator: Authenticator) -> None:
    """Refuse an open intake on anything but a loopback bind; raises :class:`UnsafeBind`."""
    if authenticator.enabled or settings.producer_bind.is_loopback:
        return
    raise UnsafeBind(
        f"refusing to start: KOMO_BRAZE_PRODUCER_BIND={settings.producer_bind} is not a loopback address and "
        "neither KOMO_BRAZE_WEBHOOK_TOKEN nor KOMO_BRAZE_WEBHOOK_HMAC_SECRET is set; set one of them, "
        "or bind to 127.0.0.1"
    )
