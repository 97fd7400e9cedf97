"""app.cors.CorsAnswers: flask-cors's headers kept per route are the ones it gives every time."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.cors import CorsAnswers

ALLOWED = "https://shop.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "X-API-Key, Content-Type",
}
PATHS = ("/api/parts/", "/api/parts/?limit=1", "/api/parts/stats", "/api/parts/999", "/health")
ASKS: list[dict[str, str]] = [
    {},
    {"Origin": ALLOWED},
    {"Origin": ALLOWED.upper()},
    {"Origin": "https://evil.example"},
    {"Origin": ALLOWED, "Access-Control-Request-Private-Network": "true"},
    {"Access-Control-Request-Private-Network": "true"},
]


def _cors_hook(app: Flask) -> tuple[int, CorsAnswers]:
    hooks = app.after_request_funcs[None]
    index = next(i for i, hook in enumerate(hooks) if isinstance(hook, CorsAnswers))
    return index, hooks[index]


def _flask_cors_every_time(app: Flask) -> Flask:
    index, answers = _cors_hook(app)
    app.after_request_funcs[None][index] = answers.hook
    return app


def _seen(app: Flask, method: str, path: str, headers: dict[str, str]) -> list[Any]:
    key = {"X-API-Key": app.config["SECRET_KEY"]}
    response = app.test_client().open(path, method=method, headers={**key, **headers})
    kept = [(k, v) for k, v in response.headers.items() if k != "X-Request-ID"]
    return [response.status_code, kept, response.get_data()]


def test_kept_answers_are_flask_cors_own_for_every_origin_and_route(make_app):
    kept = make_app(CORS_ORIGINS=[ALLOWED, "http://localhost:5173"])
    asked = _flask_cors_every_time(make_app(CORS_ORIGINS=[ALLOWED, "http://localhost:5173"]))
    for _round in range(2):  # the second round is answered from what the first kept
        for path in PATHS:
            for headers in ASKS:
                for method in ("GET", "HEAD"):
                    assert _seen(kept, method, path, headers) == _seen(asked, method, path, headers)
                preflight = {"Origin": ALLOWED, **PREFLIGHT}
                assert _seen(kept, "OPTIONS", path, preflight) == _seen(
                    asked, "OPTIONS", path, preflight
                )
    _index, answers = _cors_hook(kept)
    assert answers.answers  # something was replayed


def test_a_repeated_question_is_answered_from_the_kept_headers(make_app):
    app = make_app(CORS_ORIGINS=[ALLOWED])
    _index, answers = _cors_hook(app)
    first = _seen(app, "GET", "/api/parts/", {"Origin": ALLOWED})
    assert list(answers.answers) == [("/api/parts/", "GET", ALLOWED, False)]
    answers.hook = None  # flask-cors is not asked again: a call would fail
    assert _seen(app, "GET", "/api/parts/", {"Origin": ALLOWED}) == first
    assert ("Access-Control-Allow-Origin", ALLOWED) in first[1]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("OPTIONS", "/api/parts/", {"Origin": ALLOWED, **PREFLIGHT}),  # a preflight
        ("GET", "/api/parts/", {"Origin": "https://evil.example"}),  # not in CORS_ORIGINS
        ("GET", "/health", {"Origin": ALLOWED}),  # outside the API
        ("GET", "/api/nothing-here", {"Origin": ALLOWED}),  # no route
        ("GET", "/api/parts/999", {"Origin": ALLOWED}),  # an error: flask-cors set it already
    ],
)
def test_questions_flask_cors_answers_afresh_are_not_kept(make_app, method, path, headers):
    app = make_app(CORS_ORIGINS=[ALLOWED])
    _index, answers = _cors_hook(app)
    for _ in range(2):
        _seen(app, method, path, headers)
    assert answers.answers == {}


def test_kept_answers_under_a_base_path_are_flask_cors_own(make_app):
    settings = {"CORS_ORIGINS": [ALLOWED], "BASE_PATH": "/aerie"}
    kept, asked = make_app(**settings), _flask_cors_every_time(make_app(**settings))
    paths = ("/aerie/api/parts/", "/aerie/api/parts/stats", "/api/parts/", "/aerie/health")
    for _round in range(2):
        for path in paths:
            for headers in ASKS[:4]:
                assert _seen(kept, "GET", path, headers) == _seen(asked, "GET", path, headers)
    _index, answers = _cors_hook(kept)
    assert {key[0] for key in answers.answers} == {"/aerie/api/parts/", "/aerie/api/parts/stats"}
