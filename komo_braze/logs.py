"""structlog set-up: JSON lines for machines, a readable console renderer on a terminal.

Log events carry fields, never formatted strings. A last line of defence drops values of keys that
name personal data or secrets, should a call site ever pass one by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping, Sequence
from types import TracebackType
from typing import Any

import orjson
import structlog

from komo_braze.addresses import mask_passwords
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


class _Output:
    """What :func:`configure` chose, for the few places that print instead of logging."""

    json_lines = False


def json_lines() -> bool:
    """Whether log lines are JSON (then anything a command writes to stderr should be a JSON line too)."""
    return _Output.json_lines


class _DuplicateTransportErrors(logging.Filter):
    """Drops aiormq's ``error when creating transport`` line: ``broker_connect_failed``,
    ``broker_connection_lost`` and ``command_failed`` say the same with fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "aiormq.connection" and record.msg == "error when creating transport: %r")


def configure(level: str = "info", log_format: LogFormat = LogFormat.AUTO) -> None:
    """Configure structlog and the standard library's root logger (for aiohttp and aio-pika).

    Both render alike: structlog events directly, the standard library's records (and their
    tracebacks) through structlog's ``ProcessorFormatter``; in JSON mode an uncaught exception's
    traceback is a JSON line too.
    """
    numeric_level = logging.getLevelName(level.upper())
    console = log_format is LogFormat.CONSOLE or (log_format is LogFormat.AUTO and sys.stderr.isatty())
    _Output.json_lines = not console
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog_tail: list[structlog.types.Processor]
    stdlib_tail: list[structlog.types.Processor]
    if console:
        # a traceback's local variables may hold personal data: never shown
        tracebacks = structlog.dev.RichTracebackFormatter(show_locals=False)
        structlog_tail = stdlib_tail = [structlog.dev.ConsoleRenderer(exception_formatter=tracebacks)]
        logger_factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        exc_info = structlog.processors.format_exc_info
        structlog_tail = [exc_info, structlog.processors.JSONRenderer(serializer=orjson.dumps)]
        stdlib_tail = [exc_info, structlog.processors.JSONRenderer(serializer=_json_text)]
        logger_factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    structlog.configure(
        processors=[*shared, *structlog_tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_DuplicateTransportErrors())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *stdlib_tail],
        )
    )
    # libraries log through the standard library: keep them quiet below WARNING
    logging.basicConfig(level=max(numeric_level, logging.WARNING), handlers=[handler], force=True)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught if not console else sys.__excepthook__


def _json_text(event_dict: Any, **kwargs: Any) -> str:
    return orjson.dumps(event_dict, **kwargs).decode()


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    """A crash's traceback as one JSON event (``sys.excepthook`` in JSON mode)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    structlog.get_logger("komo_braze").critical("uncaught_exception", exc_info=(kind, error, traceback))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


#: the user and password of a URL in an exception's text (``amqp://user:secret@host``)
_URL_CREDENTIALS = re.compile(r"://[^/@\s]+@")
#: the longest exception text a log line records
MAX_DETAIL_CHARS = 300


def error_fields(exc: BaseException, urls: Sequence[str] = ()) -> dict[str, str]:
    """What a log line records of an exception: ``error``, its type, and ``detail``, its text cut short
    with any URL's credentials and the passwords of ``urls`` blanked out. For errors of the broker, of
    HTTP and of the OS, whose text names no person; never for an error about a submission's values."""
    detail = mask_passwords(_URL_CREDENTIALS.sub("://***@", str(exc)), urls)[:MAX_DETAIL_CHARS]
    return {"error": type(exc).__name__, "detail": detail}
