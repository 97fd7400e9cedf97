"""Requests for the whole list arriving together on a cold cache (a new revision, a worker's
first request) wait for one render (utils.parts_cache.PartsCache.part_list); pages do not
wait for each other."""

from __future__ import annotations

import threading
import time
from typing import Any

import utils.parts_cache

CLIENTS = 4
# Long enough for every client to reach the cache while the first render is under way.
RENDER_SECONDS = 0.3


class Renders:
    """Each find_parts call, held RENDER_SECONDS so that concurrent requests overlap, and
    the most that ran at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)

    def __exit__(self, *_exc: object) -> None:
        with self.lock:
            self.running -= 1


def _counting_renders(monkeypatch) -> Renders:
    renders = Renders()
    real = utils.parts_cache.find_parts

    def slow(session: Any, query: Any, *args: Any) -> Any:
        with renders:
            time.sleep(RENDER_SECONDS)
            return real(session, query, *args)

    monkeypatch.setattr(utils.parts_cache, "find_parts", slow)
    return renders


def _together(app, headers: dict[str, str], paths: list[str]) -> list[tuple[int, bytes]]:
    start = threading.Barrier(len(paths))
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(paths)

    def fetch(index: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.get(paths[index], headers=headers)
        answers[index] = (response.status_code, response.data)

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_concurrent_whole_list_requests_render_it_once(app, auth_headers, make_part, monkeypatch):
    for number in range(3):
        make_part(name=f"Part {number}")
    renders = _counting_renders(monkeypatch)
    answers = _together(app, auth_headers, ["/api/parts/"] * CLIENTS)
    assert [status for status, _ in answers] == [200] * CLIENTS
    assert len({body for _, body in answers}) == 1  # the same bytes for every client
    assert renders.calls == 1, f"{renders.calls} renders for {CLIENTS} clients"


def test_pages_render_side_by_side(app, auth_headers, make_part, monkeypatch):
    make_part(name="Only")
    renders = _counting_renders(monkeypatch)
    paths = [f"/api/parts/?limit=5&offset={offset}" for offset in range(CLIENTS)]
    answers = _together(app, auth_headers, paths)
    assert [status for status, _ in answers] == [200] * CLIENTS
    assert renders.calls == CLIENTS
    assert renders.most_at_once > 1  # not one after another
