"""A client of the topology's balancer: JSON calls, STEP uploads, waiting for a model, and
the same calls retried the way a phone's user retries when a host dies under them."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from pathlib import Path
from typing import Any

from bench.topology import KEY

TIMEOUT_SECONDS = 60
# What a host dying mid-request looks like from outside the balancer.
RETRIED_STATUSES = {502, 503, 504}
PART = {"name": "Topology", "type": "cnc", "material": "6061 Aluminum", "subsystem": "Drive"}


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One request on its own connection: (status, JSON body or raw bytes, headers)."""
    sent = {"X-API-Key": key} if key else {}
    sent.update(headers or {})
    payload = None
    if body is not None:
        payload, sent["Content-Type"] = json.dumps(body), "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        got = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    if got.get("content-type", "").startswith("application/json") and raw:
        return response.status, json.loads(raw), got
    return response.status, raw, got


def upload_step(port: int, part_id: int, path: Path) -> int:
    """POST the file as the multipart field `file`; the answer's status."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    headers = {"X-API-Key": KEY, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", f"/api/parts/{part_id}/upload", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def patiently(attempt: Any, seconds: float = 60) -> Any:
    """Retry `attempt()` while the answer is a dead host's (5xx from the balancer or a reset
    connection), as a user presses the button again; its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = attempt()
            status = answer[0] if isinstance(answer, tuple) else answer
            if status not in RETRIED_STATUSES or time.monotonic() > deadline:
                return answer
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def create_part(port: int, **fields: Any) -> dict[str, Any]:
    status, part, _ = patiently(lambda: call(port, "POST", "/api/parts/", {**PART, **fields}))
    if status != 201:
        raise AssertionError(f"create answered {status}: {part}")
    return part


def wait_for_model(port: int, part_id: int, seconds: float) -> bytes:
    """GET /model until it answers 200 (202 while converting); the GLB's bytes."""
    deadline = time.monotonic() + seconds
    path = f"/api/parts/{part_id}/model"
    while True:
        status, body, _ = patiently(lambda: call(port, "GET", path), seconds)
        if status == 200:
            return body
        if status != 202 or time.monotonic() > deadline:
            raise AssertionError(f"GET {path} answered {status}: {body!r:.300}")
        time.sleep(0.2)
