"""kill -9 a real server mid-upload and mid-conversion; the restarted server must be clean."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import PROJECT_ROOT
from tests.conftest import FIXTURES

SLOW_STEP = FIXTURES / "step" / "occt_bug31670_russian.stp"
SECRET = "crash-recovery-test-key-0123456789abcdef"
BOUNDARY = "crash-test-boundary"
SERVER_SCRIPT = f"""
import json, os, sys
sys.path.insert(0, {str(PROJECT_ROOT)!r})
from waitress.server import create_server
from app import create_app
from app.startup import start_serving
app = start_serving(create_app("production", json.loads(os.environ["AERIE_TEST_SETTINGS"])))
server = create_server(app, host="127.0.0.1", port=0, threads=4)
print(server.effective_port, flush=True)
server.run()
"""


class ServerProcess:
    """One production-configured waitress process on 127.0.0.1, on our SQLite file."""

    def __init__(self, workdir: Path, **settings: object) -> None:
        self.workdir = workdir
        self.uploads = workdir / "uploads"
        self.settings = {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": f"sqlite:///{workdir / 'parts.db'}",
            "UPLOAD_FOLDER": str(self.uploads),
            "FRONTEND_DIST": str(workdir / "dist"),
            "LOG_LEVEL": "WARNING",
            "CONVERSION_WORKERS": 1,
            "MODEL_WAIT_SECONDS": 0,
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.orphans: list[int] = []

    def start(self) -> ServerProcess:
        script = self.workdir / "serve.py"
        script.write_text(SERVER_SCRIPT)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "CONFIG_FILE": os.devnull,  # no settings file, not the machine's config.json
            "AERIE_TEST_SETTINGS": json.dumps(self.settings),
        }
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=log
        )
        log.close()
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else b""
        if not line.strip():
            self.kill()
            pytest.fail("server did not start:\n" + (self.workdir / "server.log").read_text())
        self.url = f"http://127.0.0.1:{int(line)}"
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def converter_children(self) -> list[int]:
        """Converter processes this server started (they run in their own session)."""
        found = []
        for task in Path(f"/proc/{self.pid}/task").glob("*/children"):
            for child in task.read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"step_worker" in cmdline:
                    found.append(int(child))
        return found

    def kill(self) -> list[int]:
        """SIGKILL, as the OOM killer would; returns the converters it was running."""
        if self.process is None or self.process.poll() is not None:
            return []
        children = self.converter_children()
        self.orphans += children
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process.stdout.close()
        return children

    def cleanup(self) -> None:
        self.kill()
        for child in self.orphans:  # only if a converter outlived its server (a failure)
            if _running(child):
                os.killpg(child, signal.SIGKILL)

    def call(self, method: str, path: str, body: bytes | None = None, content_type: str = ""):
        connection = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=60)
        headers = {"X-API-Key": SECRET, **({"Content-Type": content_type} if content_type else {})}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, payload: dict | None = None):
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = self.call(method, path, body, "application/json")
        return status, json.loads(raw) if raw else None

    def upload(self, part_id: int, name: str, data: bytes) -> int:
        head, tail, _ = multipart(name, len(data))
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
        status, _ = self.call(
            "POST", f"/api/parts/{part_id}/upload", head + data + tail, content_type
        )
        return status


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def servers(tmp_path):
    """Start servers on one folder and database; every one of them is killed at the end."""
    started: list[ServerProcess] = []

    def start(**settings: object) -> ServerProcess:
        server = ServerProcess(tmp_path, **settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


def multipart(name: str, size: int) -> tuple[bytes, bytes, int]:
    """Head and tail of a multipart body around `size` bytes of STEP content."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail, len(head) + size + len(tail)


def step_bytes(size: int) -> bytes:
    header = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n"
    return header + b"/* padding */\n" * ((size - len(header)) // 14 + 1)


def open_upload(server: ServerProcess, part_id: int, total: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    connection.putrequest("POST", f"/api/parts/{part_id}/upload")
    connection.putheader("X-API-Key", SECRET)
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(total))
    connection.endheaders()
    return connection


def assert_no_partial_files(uploads: Path, *, tmp_swept: bool) -> None:
    """What clients can reach is complete: every upload's name is its hash, models/ holds
    only finished GLBs. Once a server has started again, tmp/ is empty too."""
    for path in (uploads / "parts").rglob("*"):
        if path.is_file() and path.parent.name != "views":
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem, path
    models = uploads / "models"
    assert not models.is_dir() or all(p.suffix == ".glb" for p in models.iterdir())
    if tmp_swept:
        assert [p for p in (uploads / "tmp").rglob("*") if p.is_file()] == []


def new_part(server: ServerProcess) -> dict:
    body = {"name": "Crash", "material": "PLA", "subsystem": "Arm", "type": "cnc"}
    status, part = server.json("POST", "/api/parts/", body)
    assert status == 201, part
    return part


def test_kill_while_upload_body_streams_leaves_old_file_and_no_partial(servers):
    server = servers(CONVERSION_IN_BACKGROUND=False)
    part = new_part(server)
    original = step_bytes(2000)
    assert server.upload(part["id"], "first.step", original) == 201
    head, _, total = multipart("big.step", 64 * 1024 * 1024)
    connection = open_upload(server, part["id"], total)
    connection.send(head)
    for _ in range(8):  # slowly: 8 MB of 64 MB
        connection.send(step_bytes(1024 * 1024))
        time.sleep(0.05)
    server.kill()
    connection.close()
    assert_no_partial_files(server.uploads, tmp_swept=False)
    restarted = servers(CONVERSION_IN_BACKGROUND=False)
    assert restarted.call("GET", "/health")[0] == 200
    status, stored = restarted.json("GET", f"/api/parts/{part['id']}")
    assert (status, stored["file"]) == (200, "first.step")
    assert restarted.call("GET", f"/api/parts/{part['id']}/download") == (200, original)
    assert_no_partial_files(server.uploads, tmp_swept=True)


def test_kill_while_upload_is_written_leaves_no_partial_and_restart_sweeps_tmp(servers):
    server = servers(CONVERSION_IN_BACKGROUND=False)
    part = new_part(server)
    size = 160 * 1024 * 1024
    head, tail, total = multipart("huge.step", size)
    connection = open_upload(server, part["id"], total)
    connection.send(head)
    chunk = step_bytes(4 * 1024 * 1024)
    for offset in range(0, size, len(chunk)):
        connection.send(chunk[: size - offset])
    connection.send(tail)
    our_tmp = server.uploads / "tmp" / str(server.pid)
    deadline = time.monotonic() + 60
    while not list(our_tmp.glob("*.part")):
        assert time.monotonic() < deadline, "the upload never reached our tmp folder"
        time.sleep(0.002)
    server.kill()
    connection.close()
    assert list(our_tmp.glob("*.part")), "killed too late: nothing half-written to check"
    assert not (server.uploads / "parts").is_dir() or not any(
        (server.uploads / "parts").rglob("*.step")
    )
    restarted = servers(CONVERSION_IN_BACKGROUND=False)
    assert not our_tmp.exists()
    assert_no_partial_files(server.uploads, tmp_swept=True)
    status, stored = restarted.json("GET", f"/api/parts/{part['id']}")
    assert (status, stored["file"], stored["modelStatus"]) == (200, None, "none")


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_kill_during_conversion_then_restart_converts_the_pending_job(servers):
    if not SLOW_STEP.is_file():
        pytest.skip(f"fixture {SLOW_STEP} missing")
    server = servers(CONVERSION_IN_BACKGROUND=True)
    part = new_part(server)
    assert server.upload(part["id"], SLOW_STEP.name, SLOW_STEP.read_bytes()) == 201
    wait_for(lambda: server.converter_children(), 30, "the conversion to start")
    time.sleep(0.2)  # inside a conversion of several seconds
    converters = server.kill()
    assert converters
    wait_for(lambda: not any(map(_running, converters)), 5, "the converter to die with its server")
    assert_no_partial_files(server.uploads, tmp_swept=False)
    assert not list((server.uploads / "models").glob("*.glb"))
    restarted = servers(CONVERSION_IN_BACKGROUND=True)
    status, stored = restarted.json("GET", f"/api/parts/{part['id']}")
    assert (status, stored["modelStatus"]) == (200, "pending")
    assert restarted.call("GET", f"/api/parts/{part['id']}/model")[0] == 202

    def converted() -> bool:
        return restarted.json("GET", f"/api/parts/{part['id']}")[1]["modelStatus"] != "pending"

    wait_for(converted, 60, "the recovered conversion")
    status, glb = restarted.call("GET", f"/api/parts/{part['id']}/model")
    assert (status, glb[:4]) == (200, b"glTF")
    assert restarted.json("GET", f"/api/parts/{part['id']}")[1]["modelError"] is None
    assert_no_partial_files(server.uploads, tmp_swept=True)
    assert not (server.uploads / "tmp" / str(server.pid)).exists()
