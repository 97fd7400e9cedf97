"""Logging: JSON lines, a log file, request ids, and never a secret."""

import json

import pytest

from app.logging import redact_query


def test_json_lines_in_log_file_without_the_key(make_app, tmp_path, clean_aerie_logger):
    log_file = tmp_path / "aerie.log"
    app = make_app(LOG_JSON=True, LOG_FILE=str(log_file), LOG_LEVEL="INFO")
    key = app.config["SECRET_KEY"]
    client = app.test_client()
    client.get("/api/parts/stats", query_string={"api_key": key}, headers={"X-Request-ID": "r-1"})
    client.get("/api/parts/stats", headers={"X-API-Key": "wrong-guess"})
    for handler in clean_aerie_logger.handlers:
        handler.flush()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    access = [entry for entry in lines if entry["logger"] == "aerie.access"]
    assert len(access) == 2
    assert "api_key=[redacted]" in access[0]["message"] and "id=r-1" in access[0]["message"]
    assert {"time", "level", "logger", "message"} <= set(access[0])
    text = log_file.read_text()
    assert key not in text and "wrong-guess" not in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("api_key=abc&limit=2", "api_key=[redacted]&limit=2"),
        ("limit=2&API_KEY=abc", "limit=2&API_KEY=[redacted]"),
        ("password=hunter2", "password=[redacted]"),
        ("search=api_key", "search=api_key"),
    ],
)
def test_redact_query(query, expected):
    assert redact_query(query) == expected


def test_a_forked_worker_hands_out_request_ids_of_its_own():
    """gunicorn's master imports the app while checking the settings, then forks its
    workers: each gave the same ids (…00000001 three times over four workers)."""
    import os

    from app.logging import _next_request_id

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the worker
        os.write(write_end, _next_request_id().encode())
        os._exit(0)
    os.close(write_end)
    childs = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(child, 0)
    ours = _next_request_id()
    assert len(childs) == len(ours) == 16
    assert childs[:8] != ours[:8]
