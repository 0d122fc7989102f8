"""structlog set-up: JSON lines for machines, a readable console renderer on a terminal.

Log events carry fields, never formatted strings. A last line of defence drops values of keys that
name personal data or secrets, should a call site ever pass one by mistake.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from komo_braze.settings import LogFormat

#: keys whose values are never written, whatever the call site passes
REDACTED_KEYS = frozenset(
    {
        "email",
        "phone",
        "mobile",
        "first_name",
        "last_name",
        "name",
        "date_of_birth",
        "dob",
        "password",
        "token",
        "api_key",
        "secret",
        "authorization",
        "payload",
        "body",
    }
)


def _redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure(level: str = "info", log_format: LogFormat = LogFormat.AUTO) -> None:
    """Configure structlog and the standard library's root logger (for aiohttp and aio-pika)."""
    numeric_level = logging.getLevelName(level.upper())
    console = log_format is LogFormat.CONSOLE or (log_format is LogFormat.AUTO and sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: structlog.types.Processor
    if console:
        renderer = structlog.dev.ConsoleRenderer()
        logger_factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        logger_factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=True,
    )
    # libraries log through the standard library: keep them quiet below WARNING
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr, format="%(name)s %(message)s")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
