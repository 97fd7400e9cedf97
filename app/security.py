"""Defences against hostile input and hostile pages: bounded request JSON, security headers."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from typing import Any

from flask import Flask, Request, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from utils.auth import JSON_BODY_MAX_BYTES
from utils.errors import BadRequestError, PayloadTooLargeError
from utils.fields import exceeds_depth

# Deeper than any body a client sends (miscInfo allows 32 levels inside it) and far below
# Python's recursion limit, so nothing that walks a decoded body can overflow the stack.
MAX_JSON_BODY_DEPTH = 64
# The methods whose JSON bodies views read (DELETE bodies are ignored everywhere).
JSON_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class InvalidBodyError(BadRequestError):
    """A request body that is not JSON we can use; same code as webargs' malformed JSON."""

    code = "invalid_body"


class AsciiIntegerConverter(IntegerConverter):
    """`<int:…>` for ASCII digits only: Werkzeug's `\\d+` also matches other scripts' digits,
    so /api/parts/%EF%BC%91 (a fullwidth 1) reached part 1."""

    regex = r"[0-9]+"


def use_ascii_integers(app: Flask) -> None:
    """Before any route is added: every `<int:…>` compiles with the ASCII-only converter."""
    app.url_map.converters["int"] = AsciiIntegerConverter


class JSONTooDeepError(ValueError):
    """A ValueError, so Werkzeug hands it to on_json_loading_failed like any bad JSON."""


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but every way a hostile document can fail to decode is a ValueError.

    Request.get_json decodes with the app's provider and hands a ValueError to
    on_json_loading_failed; RecursionError is not one, and deep values would overflow the
    stack later (in a validator, the database's JSON encoder), so depth is bounded here.
    Bodies are written compact in debug mode too: one shape for every response.
    """

    compact = True

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
    (a 5,000-digit number, deep nesting); a body that passed here cannot crash there.
    """
    if request.method not in JSON_BODY_METHODS or request.url_rule is None:
        return
    if not request.is_json:
        return
    length = request.content_length
    if length is not None and length > JSON_BODY_MAX_BYTES:
        return  # never read before the key check: the JSON endpoints answer 401 or 413
    cap = min(request.max_content_length or JSON_BODY_MAX_BYTES, JSON_BODY_MAX_BYTES)
    if length is None:
        # Streamed (chunked): Werkzeug stops reading at the limit without a word, so a body
        # cut there would read as broken JSON. One byte more tells a body over the cap.
        request.max_content_length = cap + 1
    data = request.get_data(cache=True)
    if len(data) > cap:
        raise PayloadTooLargeError("Request body too large", max_bytes=cap)
    if data:
        request.get_json()


def _csp(*directives: str) -> str:
    return "; ".join(directives)


# Nothing here needs a Referer, and a URL may carry ?api_key= (a way clients pass the key).
REFERRER_POLICY = "no-referrer"
# JSON (the API, every error, /health): nothing to load, and no page may frame it.
API_POLICY = _csp("default-src 'none'", "frame-ancestors 'none'")
# The built web UI (dist/). Its index.html loads Font Awesome from cdnjs (icons on every
# button), so that one folder is allowed; nothing else off-site, and no inline script.
# Previews are blob: URLs of fetched files: images, the GLB (three.js fetches it, hence
# connect-src) and PDFs shown in an iframe (hence frame-src; checked in Chromium).
# 'wasm-unsafe-eval' lets the 3D viewer compile three.js's meshopt decoder (WebAssembly,
# bundled with the viewer); it allows no eval() and no inline script.
SPA_POLICY = _csp(
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval' https://cdnjs.cloudflare.com/ajax/libs/font-awesome/",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self' blob: data:",
    "frame-src 'self' blob:",
    "object-src 'none'",
    "worker-src 'self' blob:",
    "font-src 'self' data:",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
)
# Swagger UI (/api/docs): local assets, inline styles, and its one inline start-up
# script, allowed by hash ({scripts}) so no other inline script can run.
DOCS_POLICY = _csp(
    "default-src 'none'",
    "script-src 'self' {scripts}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
# Anything else the API serves is stored bytes (uploads, models, previews): no script
# ever, a unique origin (sandbox), and framed only by our own pages.
FILE_POLICY = _csp(
    "sandbox",
    "default-src 'none'",
    "img-src 'self'",
    "style-src 'unsafe-inline'",
    "frame-ancestors 'self'",
)
# A PDF shown inline: Safari and older Chromium refuse their PDF viewer under `sandbox`
# or object-src 'none', so neither here; scripts stay forbidden by default-src 'none'.
PDF_POLICY = _csp(
    "default-src 'none'",
    "object-src 'self'",
    "img-src 'self' data:",
    "style-src 'unsafe-inline'",
    "frame-ancestors 'self'",
)
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


# What every JSON response (the API's hot path) gets, unless a view set one of them.
JSON_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", REFERRER_POLICY),
    ("Content-Security-Policy", API_POLICY),
    ("X-Frame-Options", "DENY"),
)
_JSON_HEADER_NAMES = frozenset(name.lower() for name, _value in JSON_HEADERS)


def add_security_headers(response: Response) -> Response:
    """Every response: no sniffing, no Referer, framing and a policy for what it is.

    A header a view set deliberately is kept.
    """
    headers = response.headers
    if response.is_json and _JSON_HEADER_NAMES.isdisjoint(headers.keys(lower=True)):
        headers.extend(JSON_HEADERS)  # the same four _policy_for gives JSON, added at once
        return response
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if "Content-Security-Policy" not in headers or "X-Frame-Options" not in headers:
        policy, framing = _policy_for(response)
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Frame-Options", framing)
    return response


def _policy_for(response: Response) -> tuple[str, str]:
    """(Content-Security-Policy, X-Frame-Options) for the kind of response this is."""
    if request.endpoint == DOCS_ENDPOINT and response.mimetype == "text/html":
        return _docs_policy(response), "DENY"
    if response.is_json:
        return API_POLICY, "DENY"
    api = current_app.config["BASE_PATH"] + "/api"
    if request.path == api or request.path.startswith(api + "/"):
        if response.mimetype == "application/pdf":
            return PDF_POLICY, "SAMEORIGIN"
        return FILE_POLICY, "SAMEORIGIN"
    return SPA_POLICY, "SAMEORIGIN"


def _docs_policy(response: Response) -> str:
    scripts = _INLINE_SCRIPT.findall(response.get_data(as_text=True))
    hashes = (base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts)
    return DOCS_POLICY.format(scripts=" ".join(f"'sha256-{h}'" for h in hashes))


def register_security(app: Flask) -> None:
    """Bounded JSON bodies for every request; security headers on every response."""
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedJSONRequest
    app.before_request(decode_json_body)
    app.after_request(add_security_headers)
