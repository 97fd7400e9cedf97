"""Logging: request ids, an access log without secrets, optional JSON lines and a file."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import time
import uuid
from logging.handlers import RotatingFileHandler
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, current_app, g, request
from werkzeug.serving import WSGIRequestHandler

from utils.auth import keys_match
from utils.settings_values import log_level

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Compared with the name as Werkzeug decodes it: api%5Fkey= authenticates like api_key=.
# "code" is the OAuth authorization code Onshape hands the callback (a one-time credential).
_SECRET_PARAM_NAMES = frozenset({"api_key", "password", "code"})
# What could end a log line or disguise one: C0/C1 controls (CR, LF, NUL, ESC, NEL), DEL,
# the Unicode line and paragraph separators, and bidirectional overrides.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_QUERY_IN_TEXT = re.compile(r"\?([^\s'\"]*)")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
access_log = logging.getLogger("aerie.access")


# A random prefix per process and a counter: unique, no system call per request, and
# itertools.count is safe to share between a threaded server's threads. A forked worker
# (gunicorn's master imported this module while checking the settings) draws its own, or
# every worker would hand out the same ids.
_ID_PREFIX = uuid.uuid4().hex[:8]
_id_counter = itertools.count(1)


def _new_id_prefix() -> None:
    global _ID_PREFIX, _id_counter  # noqa: PLW0603 - the process's own id source
    _ID_PREFIX, _id_counter = uuid.uuid4().hex[:8], itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


def _next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def redact_query(query: str) -> str:
    """The query string with every api_key and password value replaced, however encoded."""
    pieces = query.split("&")
    for index, piece in enumerate(pieces):
        name, has_value, _value = piece.partition("=")
        if has_value and unquote_plus(name).strip().lower() in _SECRET_PARAM_NAMES:
            pieces[index] = name + "=[redacted]"
    return "&".join(pieces)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_for_log(text: str) -> str:
    """Text that stays on its line: control and separator characters as visible escapes."""
    return _UNSAFE_CHARS.sub(_escaped, text)


def redact_text(text: str) -> str:
    """Free text (a server's message) with secrets in any query string inside it redacted."""
    return escape_for_log(_QUERY_IN_TEXT.sub(lambda m: "?" + redact_query(m.group(1)), text))


def _indented(block: str) -> str:
    """A traceback under its record, every line escaped and indented."""
    # An exception message may carry a client's CR/LF: indented, no line passes for a record.
    return "\n".join("  " + escape_for_log(line) for line in block.split("\n"))


class SingleLineFormatter(logging.Formatter):
    """Text records whose message cannot start a new line; tracebacks follow indented."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = escape_for_log(self.formatMessage(record))
        # Not record.exc_text: another handler's formatter may have cached it unescaped.
        if record.exc_info:
            line += "\n" + _indented(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line


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
    logger.setLevel(log_level(app.config["LOG_LEVEL"]))
    if not logger.handlers:
        formatter: logging.Formatter = (
            JsonFormatter() if app.config["LOG_JSON"] else SingleLineFormatter(TEXT_FORMAT)
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
    # The id is logged and echoed: a client that put its key there gets a fresh id instead.
    usable = _REQUEST_ID.match(incoming) and not keys_match(
        incoming, current_app.config.get("SECRET_KEY")
    )
    g.request_id = incoming if usable else _next_request_id()
    g.started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    if access_log.isEnabledFor(logging.INFO):
        query = request.query_string.decode("latin-1")
        path = request.path + ("?" + redact_query(query) if query else "")
        key = current_app.config.get("SECRET_KEY")
        if key and key in path:  # a client that put the key in the path or another value
            path = path.replace(key, "[redacted]")
        elapsed_ms = (time.perf_counter() - getattr(g, "started", time.perf_counter())) * 1000
        # The path is decoded (%0a is a newline) and all three come from the client: escaped,
        # a request cannot write a line of its own into the log.
        access_log.info(
            "%s %s %s %d %.1fms id=%s",
            escape_for_log(str(request.remote_addr)),
            escape_for_log(request.method),
            escape_for_log(path),
            response.status_code,
            elapsed_ms,
            request_id,
        )
    return response


class RedactingRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server without its own access log (ours has the line).

    Its request log prints the raw query (`?api_key=<key>`); its error lines (a malformed
    request line) still print, redacted and on one line.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", redact_text(message % args if args else message))
