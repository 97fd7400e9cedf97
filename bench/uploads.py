"""Client side of the file benchmark: streamed multipart uploads, polling, server memory."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import HOST

CLIENT_TIMEOUT_SECONDS = 120
SEND_CHUNK_BYTES = 1024 * 1024
# A STEP header any reader accepts, then comments: 100 MB that looks like STEP to the sniffer.
STEP_HEADER = (
    b"ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('bench padding'),'2;1');\n"
    b"FILE_NAME('padding.step','2026-01-01T00:00:00',(''),(''),'','','');\n"
    b"FILE_SCHEMA(('AUTOMOTIVE_DESIGN'));\nENDSEC;\nDATA;\n"
)
PDF_HEADER = b"%PDF-1.4\n% bench padding\n"


@dataclass(frozen=True)
class Uploaded:
    """What one upload answered and how long the POST took, as the client saw it."""

    status: int
    body: dict[str, Any]
    seconds: float


def upload(
    port: int, part_id: int, path: Path, headers: dict[str, str], name: str = ""
) -> Uploaded:
    """POST the file as multipart field `file`, streamed from disk (the client never holds it)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{name or path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    connection = http.client.HTTPConnection(HOST, port, timeout=CLIENT_TIMEOUT_SECONDS)
    began = time.perf_counter()
    try:
        connection.putrequest("POST", f"/api/parts/{part_id}/upload")
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        for chunk in _body(head, path, tail):
            connection.send(chunk)
        response = connection.getresponse()
        body = json.loads(response.read() or b"{}")
        return Uploaded(response.status, body, time.perf_counter() - began)
    finally:
        connection.close()


def _body(head: bytes, path: Path, tail: bytes) -> Iterator[bytes]:
    yield head
    with path.open("rb") as source:
        while chunk := source.read(SEND_CHUNK_BYTES):
            yield chunk
    yield tail


def get_part(connection: http.client.HTTPConnection, part_id: int, headers: dict[str, str]) -> dict:
    """GET /api/parts/<id> on a keep-alive connection; the part as JSON."""
    connection.request("GET", f"/api/parts/{part_id}", headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET part {part_id} answered {response.status}: {body[:200]!r}")
    return json.loads(body)


def fetch_model(
    port: int, part_id: int, headers: dict[str, str], timeout: float
) -> tuple[str, float, int]:
    """GET /model as the 3D viewer does; the server holds the request until the model is
    ready (MODEL_WAIT_SECONDS): (status, time.time() the GLB arrived, requests made)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout + CLIENT_TIMEOUT_SECONDS)
    deadline, requests = time.monotonic() + timeout, 0
    try:
        while time.monotonic() < deadline:
            connection.request("GET", f"/api/parts/{part_id}/model", headers=headers)
            response = connection.getresponse()
            response.read()
            requests += 1
            if response.status in (200, 422):
                return ("ready" if response.status == 200 else "failed"), time.time(), requests
    finally:
        connection.close()
    raise RuntimeError(f"part {part_id}: no model after {timeout:g} s")


def wait_for_model(
    port: int, part_id: int, headers: dict[str, str], interval: float, timeout: float
) -> tuple[str, float, int]:
    """Poll until modelStatus is ready or failed: (status, time.time() it was seen, polls)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=CLIENT_TIMEOUT_SECONDS)
    deadline = time.monotonic() + timeout
    polls = 0
    try:
        while time.monotonic() < deadline:
            status = get_part(connection, part_id, headers)["modelStatus"]
            polls += 1
            if status in ("ready", "failed"):
                return status, time.time(), polls
            time.sleep(interval)
    finally:
        connection.close()
    raise RuntimeError(f"part {part_id}: no model after {timeout:g} s")


def memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak resident) and VmRSS of a process, in kB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(line.split()[1])
    return values


def write_padding_file(path: Path, size: int, header: bytes, line: bytes) -> Path:
    """A file of exactly `size` bytes: the header, then `line` repeated (and cut to fit)."""
    block = line * max(1, SEND_CHUNK_BYTES // len(line))
    with path.open("wb") as out:
        out.write(header)
        left = size - len(header)
        while left > 0:
            piece = block[:left]
            out.write(piece)
            left -= len(piece)
    return path


def padding_step(folder: Path, size: int) -> Path:
    """A STEP-looking file (valid header, then comments) that converts to nothing."""
    return write_padding_file(
        folder / "padding.step", size, STEP_HEADER, b"/* " + b"x" * 120 + b" */\n"
    )


def padding_pdf(folder: Path, size: int) -> Path:
    """A PDF-looking file (%PDF- header, then comment lines): stored, never converted."""
    return write_padding_file(folder / "padding.pdf", size, PDF_HEADER, b"% " + b"x" * 126 + b"\n")


def clear_model_cache(upload_folder: Path) -> int:
    """Delete every converted GLB, so the next upload of the same content converts again."""
    removed = 0
    for glb in (upload_folder / "models").glob("*.glb"):
        glb.unlink(missing_ok=True)
        removed += 1
    return removed


def job_times(database: Path, key: str) -> dict[str, Any]:
    """The job row's status and its start/finish as epoch seconds (read with plain sqlite3)."""
    import sqlite3
    from datetime import UTC, datetime

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        row = connection.execute(
            "SELECT status, started_at, finished_at FROM conversion_jobs WHERE key = ?", (key,)
        ).fetchone()
    if row is None:
        return {"status": None, "started": None, "finished": None}

    def epoch(value: Any) -> float | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(str(value))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    return {"status": row[0], "started": epoch(row[1]), "finished": epoch(row[2])}
