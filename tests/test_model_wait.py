"""GET /model waits for a pending conversion only in a few threads; the server stays free."""

from __future__ import annotations

import http.client
import json
import queue
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config import BaseConfig
from tests.conftest import FIXTURES, LiveServer, build_app, close_app
from tests.helpers import get_closed, upload_ok

CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"
SERVER_THREADS = 4
WAITERS_MAX = 2
MODEL_CALLS = 6
# Failure guards only: a waiting request would hold its thread this long.
WAIT_SECONDS = 60
CLIENT_TIMEOUT = 20


def need(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"fixture {path} missing")
    return path.read_bytes()


def http_get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=WAIT_SECONDS + CLIENT_TIMEOUT)
    try:
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


@pytest.fixture
def waiting_app(test_database, tmp_path):
    """An app whose GET /model waits long, with few waiting turns; its job stays pending
    until the test runs it (no background runner)."""
    application = build_app(
        test_database, tmp_path, MODEL_WAIT_SECONDS=WAIT_SECONDS, MODEL_WAITERS_MAX=WAITERS_MAX
    )
    yield application
    close_app(application)


def pending_part(application) -> int:
    client = application.test_client()
    headers = {"X-API-Key": application.config["SECRET_KEY"]}
    body = {"name": "Arm", "material": "PLA", "subsystem": "Arm"}
    part = client.post("/api/parts/", json=body, headers=headers).get_json()
    upload_ok(client, headers, part["id"], need(CUBE), "cube.step")
    return part["id"]


def test_only_model_waiters_max_requests_wait_and_health_still_answers(waiting_app):
    part_id = pending_part(waiting_app)
    headers = {"X-API-Key": waiting_app.config["SECRET_KEY"]}
    answers: queue.Queue[tuple[int, dict[str, str], bytes]] = queue.Queue()
    with LiveServer(waiting_app, threads=SERVER_THREADS) as server:
        url = f"{server.url}/api/parts/{part_id}/model"
        callers = [
            threading.Thread(target=lambda: answers.put(http_get(url, headers)))
            for _ in range(MODEL_CALLS)
        ]
        for caller in callers:
            caller.start()
        # Those without a turn answer at once, while the conversion is still pending.
        refused = [answers.get(timeout=CLIENT_TIMEOUT) for _ in range(MODEL_CALLS - WAITERS_MAX)]
        assert [status for status, _, _ in refused] == [202] * len(refused)
        assert all(int(headers["Retry-After"]) >= 1 for _, headers, _ in refused)
        assert all(json.loads(body)["status"] == "pending" for _, _, body in refused)
        # Every server thread but the waiters' is free: /health answers now.
        status, _, body = http_get(f"{server.url}/health", {})
        assert (status, json.loads(body)["status"]) == (200, "healthy")
        assert sum(caller.is_alive() for caller in callers) == WAITERS_MAX
        assert answers.empty()
        # The waiters were really waiting: the conversion wakes them with the model.
        assert waiting_app.extensions["conversion_runner"].run_one() is True
        for caller in callers:
            caller.join(timeout=WAIT_SECONDS)
        waited = [answers.get_nowait() for _ in range(WAITERS_MAX)]
    assert [(status, body[:4]) for status, _, body in waited] == [(200, b"glTF")] * WAITERS_MAX


def test_no_waiting_turns_means_202_at_once(test_database, tmp_path):
    application = build_app(
        test_database, tmp_path, MODEL_WAIT_SECONDS=WAIT_SECONDS, MODEL_WAITERS_MAX=0
    )
    try:
        part_id = pending_part(application)
        headers = {"X-API-Key": application.config["SECRET_KEY"]}
        url = f"/api/parts/{part_id}/model"
        answers: queue.Queue = queue.Queue()
        caller = threading.Thread(
            target=lambda: answers.put(get_closed(application.test_client(), url, headers))
        )
        caller.start()
        # A request that got to wait would still be waiting when this guard runs out.
        response = answers.get(timeout=CLIENT_TIMEOUT)
        caller.join()
        assert response.status_code == 202
        assert response.headers["Retry-After"] == "5"
    finally:
        close_app(application)


def test_defaults_leave_most_server_threads_free() -> None:
    # deploy.py serves with 8 waitress threads (gunicorn: 16 per worker) by default.
    assert 0 < BaseConfig.MODEL_WAITERS_MAX <= 2
    assert 0 < BaseConfig.MODEL_WAIT_SECONDS <= 15
