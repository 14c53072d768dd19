"""The request in progress and structured logs. Slack-agnostic: the API client reads it too.

A `RequestRecord` is put in a context variable when a Slack request arrives (handlers.observe).
asyncio tasks copy the context when they are created, so the work Bolt continues after the ack
(its listener task) still sees it: every log line of that work carries the request id, the API
calls included, and the handlers note the request's outcome on it for the metrics.

Log lines are JSON by default (`LOG_FORMAT=json`): ts, level, logger, msg, request_id while a
request is in progress, any `extra={...}` fields, and exc for an exception. What goes into a
line is chosen where it is logged; nothing here adds tokens, keys or message contents, and
every finished line, the libraries' included, loses its live Slack handles (bot.redaction).
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.redaction import redact


@dataclass(slots=True)
class RequestRecord:
    """One Slack request: its id, and what the handlers decided (first problem wins)."""

    id: str = field(default_factory=lambda: secrets.token_hex(6))
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "ok"
    counted: bool = False  # counted in the metrics already (once per request)


REQUEST: ContextVar[RequestRecord | None] = ContextVar("REQUEST", default=None)


def request_id() -> str | None:
    record = REQUEST.get()
    return record.id if record is not None else None


def set_outcome(outcome: str) -> None:
    """Note how the request in progress ended (denied, busy, bad_input, …); the first noted
    problem is the one counted, later ones are consequences of it."""
    record = REQUEST.get()
    if record is not None and record.outcome == "ok":
        record.outcome = outcome


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (control characters escaped, so a line is always one line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        current = request_id()
        if current is not None:
            entry["request_id"] = current
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """`LOG_FORMAT=text`: the classic line, with the request id and the extra fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        current = request_id()
        fields = ([f"request_id={current}"] if current else []) + [
            f"{k}={v}" for k, v in _extras(record).items()
        ]
        if not fields:
            return redact(line)
        head, newline, rest = line.partition("\n")  # an exception's traceback stays below
        return redact(f"{head} [{' '.join(fields)}]{newline}{rest}")


# Libraries whose own request logs would repeat ours (the API client logs each call without
# its query string) or, at DEBUG, print whole Slack payloads: kept at WARNING whatever LOG_LEVEL.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "aiohttp.access", "asyncio")
# Bolt logs a request that fails the signature check with its whole body at INFO: the user's
# text and a live response_url. Only its errors are kept.
SILENCED_LOGGERS = ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification")


def _silence(record: logging.LogRecord) -> bool:
    return record.name not in SILENCED_LOGGERS or record.levelno >= logging.ERROR


def setup_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """The process's logging: one handler on the root logger, writing `fmt` lines to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # A filter on the handler, not a level: Bolt resets its loggers' levels when it builds them.
    handler.addFilter(_silence)
