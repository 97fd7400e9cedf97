"""deploy.py's waitress: bodies refused before spooling, client addresses through a proxy."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.test_e2e_servers import (
    DEPLOY,
    KEY,
    STOP_DEADLINE_SECONDS,
    free_port,
    request,
    running,
    server_env,
    wait_healthy,
)

LIMIT = 1024 * 1024  # UPLOAD_MAX_BYTES for these servers


def _declare_huge_body(port: int, length: int) -> bytes:
    """Send only the headers of an upload declaring `length` bytes; the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        head = (
            f"POST /api/parts/1/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n"
        )
        connection.sendall(head.encode())
        return connection.recv(65536).split(b"\r\n", 1)[0]


def _post_body(port: int, length: int) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"X-API-Key": KEY, "Content-Type": "multipart/form-data; boundary=x"}
        connection.request("POST", "/api/parts/1/upload", body=b"x" * length, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_deploy_waitress_refuses_a_huge_declared_body_without_reading_it(tmp_path):
    port = free_port()
    env = server_env(tmp_path, UPLOAD_MAX_BYTES=str(LIMIT))
    command = [sys.executable, DEPLOY, "prod", "--port", str(port), "--host", "127.0.0.1"]
    with running(command, tmp_path, env, port):
        # 100 MB declared (under waitress's own 1 GB default) and never sent: answered at
        # once, nothing spooled.
        assert _declare_huge_body(port, 100 * 1024**2).split()[1] == b"413"
        # Just over the app's limit: the app's own JSON error.
        status, content_type, body = _post_body(port, LIMIT + 10)
        assert (status, content_type) == (413, "application/json")
        assert json.loads(body)["code"] == "payload_too_large"


@pytest.mark.parametrize(("proxies", "seen"), [("1", "203.0.113.9"), ("0", "127.0.0.1")])
def test_deploy_waitress_sees_the_client_behind_a_trusted_proxy(tmp_path, proxies, seen):
    """waitress drops X-Forwarded-For unless told otherwise; with TRUSTED_PROXY_COUNT set the
    app (ProxyFix) must see the client's address, or one student's wrong keys lock out all."""
    port = free_port()
    env = server_env(tmp_path, TRUSTED_PROXY_COUNT=proxies)
    command = [sys.executable, DEPLOY, "prod", "--port", str(port), "--host", "127.0.0.1"]
    with running(command, tmp_path, env, port) as log:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"X-API-Key": KEY, "X-Forwarded-For": "203.0.113.9"}
        connection.request("GET", "/api/parts/stats", headers=headers)
        assert connection.getresponse().status == 200
        connection.close()
        assert request(port, "GET", "/health")[0] == 200  # the access line is written
    access = [line for line in log.read_text().splitlines() if "/api/parts/stats" in line]
    assert len(access) == 1 and access[0].split("aerie.access: ")[1].startswith(seen + " ")


def _upload_in_two_halves(port: int, part_id: int, stopped: Callable[[], None]) -> tuple[int, Any]:
    """An upload whose second half of the body arrives after `stopped()` ran."""
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="d.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
        + b"0" * 200_000
        + b"\n%%EOF\n\r\n--x--\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        head = (
            f"POST /api/parts/{part_id}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body[:1000])
        stopped()
        connection.sendall(body[1000:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_deploy_waitress_lets_an_upload_under_way_finish_after_sigterm(tmp_path):
    """A service stop while a phone's upload is still arriving: the upload is answered and
    stored, new connections are refused meanwhile, and the server exits 0. waitress's own
    stop waited 5 s for running views only and cut the upload."""
    port = free_port()
    command = [sys.executable, DEPLOY, "prod", "--port", str(port), "--host", "127.0.0.1"]
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - our own command
            command, cwd=tmp_path, env=server_env(tmp_path), stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(server, port, log)
        part = request(port, "POST", "/api/parts/", {"material": "Al", "subsystem": "D"})[1]
        seen = {}

        def stop_the_server() -> None:
            server.send_signal(signal.SIGTERM)  # deploy.py exec'd the server: this is it
            time.sleep(1.5)  # draining now
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                seen["new connection"] = "accepted"
            except OSError:
                seen["new connection"] = "refused"

        status, answer = _upload_in_two_halves(port, part["id"], stop_the_server)
        assert server.wait(timeout=STOP_DEADLINE_SECONDS) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=STOP_DEADLINE_SECONDS)
    assert (status, answer["filename"]) == (201, "d.pdf"), log.read_text()
    assert seen["new connection"] == "refused"
