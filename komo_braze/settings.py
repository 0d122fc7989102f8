"""One settings object, built once from ``KOMO_BRAZE_*`` environment variables.

Every setting is declared once, in :class:`Settings`; the README table is generated from the same
declarations (``komo-braze settings``). A bad value stops the program with a message that names the
variable; secrets are :class:`pydantic.SecretStr`, so they never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AnyUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from komo_braze.addresses import SENTINEL_SCHEME, parse_sentinel_url, split_addresses

ENV_PREFIX = "KOMO_BRAZE_"
#: what KOMO_BRAZE_STATE_URL may name: a Redis as redis-py reads its URLs, or the primary Sentinel names
STATE_URL_SCHEMES = ("redis", "rediss", "unix", SENTINEL_SCHEME)


class SettingsError(Exception):
    """A setting has a bad value; the message names the environment variable."""


class BatchMode(StrEnum):
    COMBINED = "combined"  # at most 75 objects in all three arrays together
    PER_ARRAY = "per-array"  # legacy accounts: at most 75 in each array


class LogFormat(StrEnum):
    AUTO = "auto"  # console on a terminal, JSON lines elsewhere
    JSON = "json"
    CONSOLE = "console"


class HostPort:
    """A ``host:port`` pair as given in a ``*_BIND`` setting."""

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    @classmethod
    def parse(cls, text: str) -> HostPort:
        host, sep, port_text = text.strip().rpartition(":")
        if not sep or not port_text.isdigit():
            raise ValueError(f"expected host:port, got {text!r}")
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} out of range")
        host = host.strip("[]") or "0.0.0.0"
        return cls(host, port)

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"HostPort({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostPort) and (self.host, self.port) == (other.host, other.port)

    def __hash__(self) -> int:
        return hash((self.host, self.port))


def _split_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every ``KOMO_BRAZE_*`` setting. Field name ``x`` is variable ``KOMO_BRAZE_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        arbitrary_types_allowed=True,
    )

    # --- broker -------------------------------------------------------------------------------
    amqp_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@localhost:5672/"),
        description="broker URL, or several nodes of one cluster comma-separated (each a URL, or `host:port` "
        "taking the first's credentials and vhost): a process connects to one and fails over to the next; "
        "its password is a secret",
    )
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")] = Field(
        "komo", description="prefix of every broker object"
    )
    delivery_limit: int = Field(10, ge=1, le=1000, description="`x-delivery-limit` of the work queues")
    quorum_replicas: int | None = Field(
        None,
        ge=1,
        le=99,
        description="replicas of the work and dead-letter queues (`x-quorum-initial-group-size`); "
        "unset: the broker's default, every cluster node",
    )
    management_url: AnyUrl | None = Field(
        None,
        description="RabbitMQ management API (e.g. `http://rabbit-1:15672`), with the AMQP URL's credentials; "
        "lets `topology` report each queue's replicas",
    )
    publish_timeout_s: float = Field(10.0, gt=0, description="longest wait for a publisher confirm")
    reconnect_interval_s: float = Field(1.0, gt=0, description="pause between broker reconnection tries")

    # --- Braze --------------------------------------------------------------------------------
    braze_url: AnyUrl | None = Field(None, description="Braze REST endpoint (base URL); required by `worker`")
    braze_api_key: SecretStr | None = Field(None, description="Braze REST API key; required by `worker`")
    braze_single_endpoint: bool = Field(
        False,
        description="send every workspace of the mapping to `KOMO_BRAZE_BRAZE_URL` with `KOMO_BRAZE_BRAZE_API_KEY` "
        "(a braze-sim, a staging workspace): the mapping's `url`s and `api_key_env` keys are then not needed",
    )
    braze_timeout_s: float = Field(30.0, gt=0, description="timeout of one `/users/track` request")
    braze_max_in_flight: int = Field(8, ge=1, le=256, description="requests in flight per workspace")
    braze_static_rate_limit: str | None = Field(
        None, description="optional fixed ceiling per workspace, e.g. `3000/3s`, on top of header pacing"
    )
    braze_retry_base_s: float = Field(0.5, gt=0, description="first backoff step after a 5xx/timeout (full jitter)")
    braze_retry_max_s: float = Field(30.0, gt=0, description="longest backoff step, also between breaker probes")
    braze_breaker_failures: int = Field(
        5, ge=1, description="consecutive 5xx/timeouts/connection errors that open a workspace's breaker"
    )
    braze_max_pause_s: float = Field(
        3600.0,
        ge=1,
        le=86_400,
        description="longest pause a rate-limit answer can impose (`X-RateLimit-Reset`, `Retry-After`); "
        "longer values are clamped to it",
    )
    braze_pause_probe_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="while a workspace is paused longer than this, a probe checks this often whether Braze "
        "still says so",
    )
    mapping: Path | None = Field(None, description="path of the mapping file; required by `worker`")

    # --- batching -----------------------------------------------------------------------------
    batch_linger_ms: int = Field(250, ge=0, le=60_000, description="longest wait before a partial batch is sent")
    batch_mode: BatchMode = Field(BatchMode.COMBINED, description="`combined` (75 objects in all) or `per-array`")
    batch_max_bytes: int = Field(4_000_000, ge=1024, le=4_000_000, description="largest request body in bytes")

    # --- producer -----------------------------------------------------------------------------
    producer_bind: HostPort = Field(HostPort("127.0.0.1", 8080), description="intake host:port")
    producer_admin_bind: HostPort | None = Field(
        None,
        description="optional host:port for the producer's `/healthz`, `/readyz` and `/metrics`, off the intake "
        "port; unset: they stay on the intake port, `/readyz` and `/metrics` behind the intake's credentials",
    )
    webhook_token: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="bearer token(s) Komo sends; several comma-separated allowed for rotation",
    )
    webhook_hmac_secret: SecretStr | None = Field(
        None, description="secret for `X-Komo-Signature: sha256=<hex HMAC of the raw body>`"
    )
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="largest webhook body accepted")
    producer_header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="time a client has to send its request headers, from connecting or from the previous "
        "response (an idle keep-alive connection is closed after it)",
    )
    producer_body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="time a client has to send the body once its headers arrived (else 408)"
    )
    producer_max_connections: int = Field(
        512,
        ge=1,
        le=100_000,
        description="client connections open at once; one more closes the one waiting longest for its headers, "
        "or gets 503",
    )
    producer_trim_memory: bool = Field(
        True, description="after a burst of connections, hand freed memory back to the system (glibc `malloc_trim`)"
    )
    webhook_timestamp_tolerance_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="how far a signed `X-Komo-Timestamp` may be from the intake's clock; inside it a signature "
        "is accepted once",
    )
    webhook_require_timestamp: bool = Field(
        False, description="refuse signed requests without `X-Komo-Timestamp` (the signature then covers the time)"
    )

    # --- worker -------------------------------------------------------------------------------
    worker_metrics_bind: HostPort = Field(
        HostPort("127.0.0.1", 9108), description="worker `/metrics` and health host:port"
    )
    shutdown_grace_s: float = Field(30.0, ge=0, description="time to finish in-flight batches on SIGTERM")
    hold_limit_s: float = Field(
        1500.0,
        gt=0,
        description="longest a message is held unacked (Braze down) before it is handed back to the broker; "
        "keep it below RabbitMQ's `consumer_timeout` (30 min by default)",
    )

    gc_tuning: bool = Field(
        True,
        description="worker and braze-sim: freeze start-up objects and collect young garbage less often "
        "(`gc.freeze()`, higher thresholds); `false` keeps Python's defaults",
    )

    # --- state store (shared by the workers of one deployment) ------------------------------
    state_url: SecretStr | None = Field(
        None,
        description="state store shared by the workers, `redis://host:6379/0`, or the primary Sentinel names, "
        "`redis+sentinel://host:26379,host2:26379/service` (its password is a secret): accepted submission ids, "
        "per-user order, the rate limit per workspace; unset: in-process, for a single worker",
    )
    state_accepted_retention_s: float = Field(
        7 * 86400.0,
        gt=0,
        description="how long a submission id Braze accepted is remembered: a copy arriving within it is acked, "
        "not sent again",
    )
    state_user_retention_s: float = Field(
        7 * 86400.0,
        gt=0,
        description="how long a user's last accepted attribute times and digests are kept (older values held "
        "back, `skip_unchanged`); after it, values are sent again",
    )
    state_claim_ttl_s: float = Field(
        10.0,
        gt=0,
        description="lifetime of a worker's claim on a user while their batch is in flight (renewed every third "
        "of it): a dead worker's users wait at most this long",
    )
    state_timeout_s: float = Field(
        1.0,
        gt=0,
        description="longest wait for one answer of the state store; three failed or slower in a row mean "
        "per-process mode until it answers again",
    )

    # --- logging ------------------------------------------------------------------------------
    log_level: str = Field("info", pattern=r"(?i)^(debug|info|warning|error)$", description="log level")
    log_format: LogFormat = Field(LogFormat.AUTO, description="`auto`, `json` or `console`")

    @field_validator("producer_bind", "producer_admin_bind", "worker_metrics_bind", mode="before")
    @classmethod
    def _parse_bind(cls, value: Any) -> Any:
        return HostPort.parse(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _admin_bind_apart(self) -> Settings:
        admin = self.producer_admin_bind
        if admin is not None and admin.port != 0 and admin == self.producer_bind:
            raise ValueError(
                "KOMO_BRAZE_PRODUCER_ADMIN_BIND must differ from KOMO_BRAZE_PRODUCER_BIND (or be left unset)"
            )
        return self

    @field_validator("webhook_token", mode="before")
    @classmethod
    def _parse_tokens(cls, value: Any) -> Any:
        return _split_secrets(value)

    @field_validator("webhook_hmac_secret", "braze_api_key", "state_url", "producer_admin_bind", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # an empty HMAC key would turn authentication "on" while anyone can compute the signature; an
        # empty optional bind (e.g. a blank compose variable) is no bind
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("state_url")
    @classmethod
    def _check_state_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        url = value.get_secret_value()
        scheme = urlsplit(url).scheme
        if scheme not in STATE_URL_SCHEMES:
            raise ValueError("expected a redis://, rediss://, unix:// or redis+sentinel:// URL")
        if scheme == SENTINEL_SCHEME:
            parse_sentinel_url(url)  # AddressError is a ValueError that shows no password
        return value

    @field_validator("amqp_url")
    @classmethod
    def _check_addresses(cls, value: SecretStr) -> SecretStr:
        split_addresses(value.get_secret_value())  # AddressError is a ValueError that shows no password
        return value

    @field_validator("braze_static_rate_limit")
    @classmethod
    def _check_rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @property
    def amqp_url_str(self) -> str:
        return self.amqp_url.get_secret_value()

    @property
    def amqp_urls(self) -> list[str]:
        """Every broker address as a full URL, in the order given (see :mod:`komo_braze.addresses`)."""
        return split_addresses(self.amqp_url_str)


def parse_rate(text: str) -> tuple[int, float]:
    """Parse ``"3000/3s"`` (also ``/500ms``, ``/1m``, ``/1h``) into ``(requests, window_s)``."""
    count_text, _, window_text = text.strip().partition("/")
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if window_text.endswith(unit):
            number = window_text[: -len(unit)] or "1"
            try:
                count, window_s = int(count_text), float(number) * units[unit]
            except ValueError:
                break
            if count >= 1 and window_s > 0:
                return count, window_s
            break
    raise ValueError(f"expected a rate like 3000/3s, got {text!r}")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment; ``overrides`` (from flags) win.

    Raises :class:`SettingsError` naming the variable of the first bad value.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']}")
        # from None: pydantic's error keeps every input value, secrets among them; the names and the
        # messages above say what is wrong
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


def settings_table() -> list[tuple[str, str, str]]:
    """``(variable, meaning, default)`` for every setting, for README and ``--help``."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default_text = _redacted_default(default.get_secret_value())
        elif default in (None, []):
            default_text = "unset"
        else:
            default_text = str(default.value if isinstance(default, StrEnum) else default)
        rows.append((ENV_PREFIX + name.upper(), field.description or "", default_text))
    return rows


def _redacted_default(secret: str) -> str:
    """A URL default with its password masked; any other secret default not at all."""
    parts = urlsplit(secret)
    if parts.scheme and parts.password is not None:
        return secret.replace(f":{parts.password}@", ":***@", 1)
    return "(secret)"


def settings_markdown() -> str:
    """The settings as the markdown table README carries (a test keeps the two the same)."""
    lines = ["| variable | meaning | default |", "| --- | --- | --- |"]
    for name, meaning, default in settings_table():
        shown = default if default == "unset" else f"`{default}`"
        lines.append(f"| `{name}` | {meaning} | {shown} |")
    return "\n".join(lines) + "\n"
