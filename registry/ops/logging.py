"""Request ids on every response and log line, and the logging set-up (plain or JSON lines)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the client (or the proxy in front) is kept only if it is a short token that cannot
# forge a log line or a header: letters, digits and a few separators.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}", re.ASCII)
NO_REQUEST = "-"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)


def current_request_id() -> str:
    """The id of the request being answered, or "-" outside any request."""
    return request_id.get()


def incoming_request_id(value: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id: the client's X-Request-ID if sane, else a new uuid4 hex. It is
    request.request_id, the X-Request-ID of the response, and the request_id of log records."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current = incoming_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = current
        token = request_id.set(current)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = current
        return response


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record, as record.request_id.

    Django logs a 4xx or 5xx response after the middleware has returned it, with the request
    on the record: its id is taken from there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            current = current_request_id()
            if current == NO_REQUEST:
                current = getattr(getattr(record, "request", None), "request_id", NO_REQUEST)
            record.request_id = current if isinstance(current, str) else NO_REQUEST
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
