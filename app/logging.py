"""Logging: request ids, an access log without secrets, optional JSON lines and a file."""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
import time
import uuid
from logging.handlers import RotatingFileHandler

from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECRET_PARAMS = re.compile(r"((?:^|&)(?:api_key|password)=)[^&]*", re.IGNORECASE)
access_log = logging.getLogger("aerie.access")


# A random prefix per process and a counter: unique, no system call per request, and
# itertools.count is safe to share between a threaded server's threads.
_ID_PREFIX = uuid.uuid4().hex[:8]
_id_counter = itertools.count(1)


def _next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def redact_query(query: str) -> str:
    """The query string with api_key and password values replaced."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", query)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(app: Flask) -> None:
    """Handlers on the 'aerie' logger, then per-request ids and access lines."""
    logger = logging.getLogger("aerie")
    logger.setLevel(app.config["LOG_LEVEL"])
    if not logger.handlers:
        formatter: logging.Formatter = (
            JsonFormatter()
            if app.config["LOG_JSON"]
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
        if app.config["LOG_FILE"]:
            handlers.append(
                RotatingFileHandler(app.config["LOG_FILE"], maxBytes=10_000_000, backupCount=5)
            )
        for handler in handlers:
            handler.setFormatter(formatter)
            logger.addHandler(handler)
        # Our handlers print these lines; a server that also configured the root logger
        # (waitress-serve) would print them twice. Tests keep propagation for caplog.
        logger.propagate = app.config["FLASK_ENV"] == "testing"
    app.before_request(_start_request)
    app.after_request(_finish_request)


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else _next_request_id()
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    if access_log.isEnabledFor(logging.INFO):
        query = request.query_string.decode("latin-1")
        path = request.path + ("?" + redact_query(query) if query else "")
        elapsed_ms = (time.perf_counter() - getattr(g, "started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s %d %.1fms id=%s",
            request.remote_addr,
            request.method,
            path,
            response.status_code,
            elapsed_ms,
            request_id,
        )
    return response
