"""Defences against hostile input and hostile pages: bounded request JSON, security headers."""

from __future__ import annotations

import json
import sys
from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider

from utils.auth import JSON_BODY_MAX_BYTES
from utils.errors import BadRequestError
from utils.fields import exceeds_depth

# Deeper than any body a client sends (miscInfo allows 32 levels inside it) and far below
# Python's recursion limit, so nothing that walks a decoded body can overflow the stack.
MAX_JSON_BODY_DEPTH = 64
# The methods whose JSON bodies views read (DELETE bodies are ignored everywhere).
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class InvalidBodyError(BadRequestError):
    """A request body that is not JSON we can use; same code as webargs' malformed JSON."""

    code = "invalid_body"


class JSONTooDeepError(ValueError):
    """A ValueError, so Werkzeug hands it to on_json_loading_failed like any bad JSON."""


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but every way a hostile document can fail to decode is a ValueError.

    Request.get_json decodes with the app's provider and hands a ValueError to
    on_json_loading_failed; RecursionError is not one, and deep values would overflow the
    stack later (in a validator, the database's JSON encoder), so depth is bounded here.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as exc:
            raise JSONTooDeepError from exc
        if exceeds_depth(value, MAX_JSON_BODY_DEPTH):
            raise JSONTooDeepError
        return value


class BoundedJSONRequest(Request):
    """A body that fails to decode is our JSON 400, never Werkzeug's HTML BadRequest."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type: Flask's 415
            return super().on_json_loading_failed(e)
        if isinstance(e, JSONTooDeepError):
            raise InvalidBodyError("JSON nested too deeply", max_depth=MAX_JSON_BODY_DEPTH) from e
        raise InvalidBodyError("Invalid JSON body", details=_why_invalid(e)) from e


def _why_invalid(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (line {error.lineno}, column {error.colno})"
    if isinstance(error, UnicodeDecodeError):
        return "The body is not valid UTF-8 text"
    if "digits" in str(error):  # json's bare ValueError for an integer Python will not convert
        return f"Numbers may have at most {sys.get_int_max_str_digits()} digits"
    return "The body is not valid JSON"


def decode_json_body() -> None:
    """Decode a JSON body up front, once, so a hostile one is refused before any view sees it.

    webargs decodes bodies with the standard library and lets some failures escape as 500s
    (a 5,000-digit number, deep nesting); a body that passed here cannot fail there.
    """
    if request.method not in JSON_BODY_METHODS or request.url_rule is None:
        return
    if not request.is_json:
        return
    length = request.content_length
    if length is not None and length > JSON_BODY_MAX_BYTES:
        return  # never read before the key check: the JSON endpoints answer 401 or 413
    if length is None:  # streamed: read no more than a JSON body may hold
        request.max_content_length = min(
            request.max_content_length or JSON_BODY_MAX_BYTES, JSON_BODY_MAX_BYTES
        )
    if request.get_data(cache=True):
        request.get_json()


def register_security(app: Flask) -> None:
    """Bounded JSON bodies for every request."""
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedJSONRequest
    app.before_request(decode_json_body)
