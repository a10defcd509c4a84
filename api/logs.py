"""JSON log lines carrying the request id of the request being handled.

The id lives in a context variable: asyncio copies the context into tasks and into
`asyncio.to_thread`, so log lines written by the application in a worker thread carry
the id of the request that caused them.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

CURRENT_REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = CURRENT_REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or CURRENT_REQUEST_ID.get(),
        }
        line |= getattr(record, "fields", {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def use_json_logs() -> None:
    """Every handler of the root logger writes JSON lines with the request id."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
