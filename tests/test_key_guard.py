"""@require_api_key marks a view; the parts blueprint's before-request hook (routes.guard)
enforces it, so a marked view anywhere else would be left open."""

from __future__ import annotations

from routes.guard import guard_request
from utils.auth import require_api_key, requires_api_key


def test_every_marked_view_is_on_a_blueprint_that_checks_the_mark(make_app):
    app = make_app()
    marked = {name for name, view in app.view_functions.items() if requires_api_key(view)}
    assert marked, "no view is marked: the guard would check nothing"
    guarded = {bp for bp, hooks in app.before_request_funcs.items() if guard_request in hooks}
    assert guarded == {"parts", "onshape_auth"}
    assert {name for name in marked if name.partition(".")[0] not in guarded} == set()


def test_the_mark_survives_the_decorators_below_the_route(make_app):
    app = make_app()
    for endpoint in ("parts.list_parts", "parts.create_part", "parts.upload_file"):
        assert requires_api_key(app.view_functions[endpoint]), endpoint


def test_marking_returns_the_same_view():
    def view() -> str:
        return "ok"

    assert require_api_key(view) is view
    assert requires_api_key(view) and not requires_api_key(None)
