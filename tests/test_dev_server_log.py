"""`python run.py` (Werkzeug's development server) never prints the API key."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
# The key the server runs with; tests/log_audit.py also looks for it in every *.log file.
API_KEY = "dev-server-log-test-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(base: str, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"run.py exited with {server.returncode}")
        try:
            if _get(base, "/health", timeout=2)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("run.py did not answer /health in time")


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """run.py on a free port; yields its URL and the folder holding its stdout/stderr."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "CONFIG_FILE": os.devnull,  # no settings file, not this machine's config.json
        "SECRET_KEY": API_KEY,
    }
    with (
        open(tmp_path / "server-stdout.log", "wb") as stdout,
        open(tmp_path / "server-stderr.log", "wb") as stderr,
    ):
        server = subprocess.Popen(
            [sys.executable, "run.py"], cwd=PROJECT, env=env, stdout=stdout, stderr=stderr
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", server, time.monotonic() + 60)
            yield f"http://127.0.0.1:{port}", tmp_path
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def _get(base: str, path: str, timeout: float = 30) -> tuple[int, dict]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _send_raw_request_line(base: str, line: str) -> bytes:
    """A malformed request line, which Werkzeug answers (and logs) without the app."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(line.encode() + b"\r\nHost: x\r\n\r\n")
        return connection.recv(4096)


def test_run_py_never_prints_the_key_from_the_query_string(dev_server):
    base, folder = dev_server
    for name in ("api_key", "api%5Fkey"):
        status, body = _get(base, f"/api/parts/stats?{name}={API_KEY}")
        assert status == 200, body
    status, body = _get(base, f"/api/parts/stats?api_key={API_KEY}x")
    assert status == 401 and body["error"] == "Invalid API key"
    answer = _send_raw_request_line(base, f"GET /api/parts/stats?api_key={API_KEY} x HTTP/1.1")
    assert answer.startswith(b"HTTP/1.1 400 ")
    time.sleep(0.5)  # let the server write its last lines before it is stopped
    output = b"".join(
        (folder / name).read_bytes() for name in ("server-stdout.log", "server-stderr.log")
    )
    assert API_KEY.encode() not in output
    # The output was captured: the app's own access lines are there, redacted.
    assert output.count(b"aerie.access: 127.0.0.1 GET /api/parts/stats?api_key=[redacted] ") == 2
    assert output.count(b"GET /api/parts/stats?api%5Fkey=[redacted]") == 1
    # Werkzeug's own error line for a malformed request quotes the request line: redacted.
    assert b"Bad request syntax ('GET /api/parts/stats?api_key=[redacted] x HTTP/1.1')" in output
