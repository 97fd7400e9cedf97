"""app.read_path.KnownSyncFunctions: Flask's ensure_sync asked once per plain function."""

from __future__ import annotations

from typing import Any

import pytest

from app.read_path import KnownSyncFunctions


class CountingFlaskCheck:
    """Flask's own ensure_sync, counting how often it is asked."""

    def __init__(self, ensure_sync: Any) -> None:
        self.ensure_sync, self.asked = ensure_sync, 0

    def __call__(self, func: Any) -> Any:
        self.asked += 1
        return self.ensure_sync(func)


def test_the_app_asks_flask_once_per_hook_and_view(make_app):
    app = make_app()
    assert isinstance(app.ensure_sync, KnownSyncFunctions)
    counting = CountingFlaskCheck(app.ensure_sync._ensure_sync)
    app.ensure_sync = KnownSyncFunctions(counting)
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    client = app.test_client()
    assert client.get("/api/parts/", headers=headers).status_code == 200
    first = counting.asked
    assert first > 5  # every hook and view was asked about
    assert client.get("/api/parts/", headers=headers).status_code == 200
    assert counting.asked == first


def test_a_function_flask_wraps_goes_to_flask_every_time():
    # What Flask does for an `async def` with its async extra: a wrapper, asked for each call.
    def wrapping_check(func: Any) -> Any:
        return lambda *args: func(*args)

    counting = CountingFlaskCheck(wrapping_check)
    known = KnownSyncFunctions(counting)

    async def view() -> None:
        return None

    for _ in range(2):
        assert known(view) is not view
    assert counting.asked == 2


def test_flask_refusing_a_coroutine_function_still_refuses(make_app):
    app = make_app()

    async def view() -> None:
        return None

    for _ in range(2):  # Flask without its async extra says so every time, as before
        with pytest.raises(RuntimeError):
            app.ensure_sync(view)


def test_an_unhashable_callable_is_handed_to_flask():
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> None:
            return None

    known = KnownSyncFunctions(lambda func: func)
    target = Unhashable()
    assert known(target) is target


@pytest.mark.parametrize("calls", [1, 3])
def test_a_plain_function_is_returned_as_is(calls):
    def hook() -> None:
        return None

    known = KnownSyncFunctions(lambda func: func)
    for _ in range(calls):
        assert known(hook) is hook
