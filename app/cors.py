"""CORS by flask-cors, its answers kept per route: the API's browser origins (CORS_ORIGINS).

flask-cors decides every response's CORS headers from the request's path, method, `Origin`
and `Access-Control-Request-*` headers, and re-derives the same ones for every request (about
35 µs of a 250 µs part read, BENCHMARKS.md "Scale"). `CorsAnswers` wraps the hook it
registers: the first response for a route, method, Origin and private-network flag is
flask-cors's own; the next ones get the headers it added then. What stays flask-cors's every
time: preflights (their `Access-Control-Request-*` headers are the client's to vary), origins
not in CORS_ORIGINS (any string), routes outside the API, unmatched paths and responses that
already carry `Access-Control-Allow-Origin` (errors, which flask-cors handles itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from app.extensions import cors

ALLOW_ORIGIN = "Access-Control-Allow-Origin"
PRIVATE_NETWORK = "Access-Control-Request-Private-Network"
EXPOSED_HEADERS = ["ETag", "Retry-After", "Content-Disposition", "X-Request-ID", "X-Next-After"]
Hook = Callable[[Response], Response]


class CorsAnswers:
    """flask-cors's after-request hook, its headers replayed for a repeated question.

    Only routes under `api_prefix` (the resource flask-cors was given, `<api_prefix>*`) are
    kept: every path such a route matches starts with the prefix, so flask-cors's path test
    answers the same for all of them. The keys are bounded by the app's routes, methods and
    CORS_ORIGINS.
    """

    def __init__(self, hook: Hook, api_prefix: str, origins: list[str]) -> None:
        self.hook, self.api_prefix, self.origins = hook, api_prefix, frozenset(origins)
        self.answers: dict[tuple[str, str, str | None, bool], list[tuple[str, str]]] = {}

    def __call__(self, response: Response) -> Response:
        key = self._question(response)
        if key is None:
            return self.hook(response)
        answer = self.answers.get(key)
        if answer is not None:
            response.headers.extend(answer)
            return response
        before = len(response.headers)
        response = self.hook(response)
        self.answers[key] = list(response.headers)[before:]
        return response

    def _question(self, response: Response) -> tuple[str, str, str | None, bool] | None:
        """What flask-cors's answer depends on, or None when it must be asked afresh."""
        rule, method = request.url_rule, request.method
        if rule is None or method == "OPTIONS" or not rule.rule.startswith(self.api_prefix):
            return None
        if ALLOW_ORIGIN in response.headers:
            return None
        headers = request.headers
        origin = headers.get("Origin")
        if origin is not None and origin not in self.origins:
            return None
        return rule.rule, method, origin, headers.get(PRIVATE_NETWORK) == "true"


def register_cors(app: Flask) -> None:
    """flask-cors for `<BASE_PATH>/api/*` and CORS_ORIGINS, its hook wrapped in CorsAnswers."""
    api_prefix = f"{app.config['BASE_PATH']}/api/"
    origins = app.config["CORS_ORIGINS"]
    hooks: list[Any] = app.after_request_funcs.setdefault(None, [])
    registered = len(hooks)
    cors.init_app(
        app, resources={f"{api_prefix}*": {"origins": origins}}, expose_headers=EXPOSED_HEADERS
    )
    (hook,) = hooks[registered:]  # the one hook flask-cors adds
    hooks[registered] = CorsAnswers(hook, api_prefix, [o for o in origins if isinstance(o, str)])
