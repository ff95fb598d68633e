"""JSON-lines logging with the service, entrypoint and call id on every record.

Records carry ids only: callers never pass ID numbers, names or phone numbers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

_entrypoint: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "entrypoint", default=None
)
_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "call_id", default=None
)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entrypoint, call_id = _entrypoint.get(), _call_id.get()
        if entrypoint:
            line["entrypoint"] = entrypoint
        if call_id:
            line["call_id"] = call_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Configure the process's logging once, in its entry point."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Nameko and kombu chat at INFO about every connection; keep their warnings.
    for noisy in ("nameko", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def set_call_context(entrypoint: str | None, call_id: str | None) -> None:
    _entrypoint.set(entrypoint)
    _call_id.set(call_id)
