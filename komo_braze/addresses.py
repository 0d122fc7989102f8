"""Broker addresses: ``KOMO_BRAZE_AMQP_URL`` may name several nodes of one cluster, comma-separated.

Each entry is a full URL (``amqp://user:pass@rabbit-1:5672/vhost``), or, after the first, only
``host[:port]``: it then takes the scheme, credentials, vhost and query of the first. Every entry must
reach the same cluster (same credentials and vhost), since a process fails over from one to the next.
Passwords never leave this module unmasked in text meant for people (:func:`redact`).

The state store's ``KOMO_BRAZE_STATE_URL`` may name several Redis Sentinels the same way
(:func:`parse_sentinel_url`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

SCHEMES = ("amqp", "amqps")
MASK = "***"
SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


class AddressError(ValueError):
    """An address list that cannot be used; the message never holds a password."""


def redact_url(url: str) -> str:
    """One URL with its password replaced, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]  # as written: a bad port is shown, not parsed
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))


def redact(urls: str | Sequence[str]) -> str:
    """An address list (a setting's text or parsed URLs) with every password replaced."""
    entries = [u.strip() for u in urls.split(",")] if isinstance(urls, str) else list(urls)
    return ",".join(redact_url(entry) for entry in entries if entry)


def split_addresses(text: str) -> list[str]:
    """Every address of ``text`` as a full URL, in the order given; raises :class:`AddressError`."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise AddressError("no broker address given")
    first = urlsplit(entries[0])
    if first.scheme not in SCHEMES or not first.hostname:
        raise AddressError(f"the first address must be a full amqp:// or amqps:// URL, got {redact_url(entries[0])}")
    urls = [entries[0]]
    for entry in entries[1:]:
        if "://" in entry:
            parts = urlsplit(entry)
            if parts.scheme not in SCHEMES or not parts.hostname:
                raise AddressError(f"not an amqp:// or amqps:// URL: {redact_url(entry)}")
            urls.append(entry)
            continue
        host, port = _host_port(entry)
        credentials = first.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{host}" if credentials else host
        urls.append(urlunsplit(first._replace(netloc=f"{netloc}:{port}" if port else netloc)))
    for url in urls:
        try:
            urlsplit(url).port  # noqa: B018 - urllib checks the port only when asked
        except ValueError as exc:
            raise AddressError(f"bad port in {redact_url(url)}") from exc
    return urls


def _host_port(entry: str) -> tuple[str, str]:
    if "@" in entry or "/" in entry:
        raise AddressError("an address after the first is a full URL or host[:port]")
    host, sep, port = entry.rpartition(":") if not entry.endswith("]") else (entry, "", "")
    if not sep:
        return entry, ""
    if not port.isdigit():
        raise AddressError(f"bad port in address {entry!r}")
    return host, port


@dataclass(frozen=True)
class SentinelAddress:
    """The Redis primary that the sentinels name ``service``; the credentials are the primary's."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None  # sentinels that ask for one (``requirepass`` in their configuration)


def parse_sentinel_url(url: str) -> SentinelAddress:
    """``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?sentinel_password=…]``
    (port 26379 unless given); raises :class:`AddressError`."""
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    path = [segment for segment in parts.path.split("/") if segment]
    if parts.scheme != SENTINEL_SCHEME or not hosts or len(path) not in (1, 2):
        raise AddressError(f"expected {SENTINEL_SCHEME}://host:port[,host:port...]/service[/db]")
    if len(path) == 2 and not path[1].isdigit():
        raise AddressError(f"bad database number {path[1]!r} in {redact_url(url)}")
    sentinels = []
    for entry in hosts.split(","):
        host, port = _host_port(entry.strip())
        if not host:
            raise AddressError(f"a sentinel without a host in {redact_url(url)}")
        sentinels.append((host, int(port or SENTINEL_PORT)))
    query = parse_qs(parts.query)
    if set(query) - {"sentinel_password"}:
        raise AddressError(f"{SENTINEL_SCHEME}:// takes only sentinel_password after '?'")
    username, _, password = credentials.partition(":")
    return SentinelAddress(
        tuple(sentinels),
        path[0],
        int(path[1]) if len(path) == 2 else 0,
        unquote(username) or None,
        unquote(password) or None,
        query["sentinel_password"][-1] if "sentinel_password" in query else None,
    )


def shuffled(urls: Sequence[str], rng: random.Random | None = None) -> list[str]:
    """The addresses in a random order, so that a fleet of processes spreads over the nodes."""
    order = list(urls)
    (rng or random).shuffle(order)
    return order


def mask_passwords(text: str, urls: Sequence[str]) -> str:
    """``text`` (e.g. an exception's message) with the password of every URL in ``urls`` blanked out."""
    for url in urls:
        password = urlsplit(url).password
        if password:
            text = text.replace(password, MASK)
    return text
