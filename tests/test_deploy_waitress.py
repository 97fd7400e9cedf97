"""deploy.py's waitress: bodies refused before spooling, client addresses through a proxy."""

from __future__ import annotations

import http.client
import json
import socket
import sys

import pytest

from tests.test_e2e_servers import DEPLOY, KEY, free_port, request, running, server_env

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
