"""Process logging: one handler on stderr (journald captures it under systemd), text or JSON lines.

The web server's loggers (`uvicorn.*`) get no handlers of their own (the listeners start uvicorn with
`log_config=None`), so they propagate here and share the format, the level and the redaction.

Redaction is the last line of defence, not the policy: no code logs a token or password on purpose, and
the filter masks what would leak if one did (an `Authorization` header, a `password` field, an Argon2
hash, a `token=` query) before any handler formats the record.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
REDACTED = "[redacted]"
HANDLER_NAME = "otgate"
# Long-running commands log by default; one-shot commands only when asked (their output is their answer).
SERVICE_COMMANDS = frozenset({"run", "demo", "sim"})
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"

_SECRETS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(
        r"(?i)(\"?(?:password|passwd|token|secret|csrf_token|x-csrf-token)\"?\s*[:=]\s*\"?)[^\s\"',;&}]+"
    ),
    re.compile(r"()\$argon2(?:id|i|d)\$[^\s\"']+"),
)


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in the message and its arguments; the record then carries the masked text only."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(
    level: str = "warning", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger (ours and uvicorn's) to one handler on `stream` (default stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
        if fmt == "json"
        else logging.Formatter(TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    handler.addFilter(RedactingFilter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)  # configuring twice replaces ours, never someone else's handler
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        web = logging.getLogger(name)
        web.handlers.clear()
        web.propagate = True
        web.setLevel(logging.NOTSET)
    return handler


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level", choices=LEVELS, default=None, help="least severity logged (default: warning)"
    )
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="text lines, or one JSON object per line for a log shipper (default: text)",
    )


def configure_from_args(args: Any) -> None:
    level, fmt = getattr(args, "log_level", None), getattr(args, "log_format", None)
    if level is None and fmt is None and getattr(args, "command", None) not in SERVICE_COMMANDS:
        return
    configure_logging(level or "warning", fmt or "text")
