"""Background tasks across processes: the embedded queue in `python run.py`, and the shared
Redis queue whose `flask worker` (another process, another folder) converts for the server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from hashlib import sha256
from pathlib import Path

import pytest
import redis

from tests import test_e2e_servers
from tests.conftest import FIXTURES
from tests.test_crash_recovery import SLOW_STEP
from tests.test_e2e_hardening import (
    CONVERSION_DONE_DEADLINE,
    CONVERSION_START_DEADLINE,
    converters,
    deploy_command,
    descendants,
    serving,
    upload_step,
    wait_until,
)
from tests.test_e2e_servers import (
    PART,
    PROJECT_DIR,
    REDIS_HOST,
    REDIS_PORT,
    free_port,
    request,
    server_env,
    wait_healthy,
)

# A Redis key prefix of our own, its keys deleted after (skipped, or failed in CI, without Redis).
redis_prefix = test_e2e_servers.redis_prefix

SCREW = FIXTURES / "step" / "occt_screw.step"
POISON = b"ISO-10303-21;\nHEADER;\n" + b"x" * 64
FLASK = str(Path(sys.executable).parent / "flask")
STOP_SECONDS = 30


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"fixture {path} missing")
    return path


def shared_env(tmp_path: Path, prefix: str) -> dict[str, str]:
    """Server and workers: one database, one upload folder, one Redis queue of our own."""
    return server_env(
        tmp_path,
        TASK_QUEUE_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0?queue={prefix}",
        LOG_LEVEL="INFO",
        CONVERSION_WORKERS="1",
    )


@contextmanager
def worker(env: dict[str, str], folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`flask --app run_prod:app worker` started in another folder; stopped by its PID."""
    folder.mkdir(exist_ok=True)
    log = folder / f"worker-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [FLASK, "--app", "run_prod:app", "worker"],
            cwd=folder,
            env={**env, "PYTHONPATH": str(PROJECT_DIR)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log = log  # type: ignore[attr-defined]
    try:
        wait_until(lambda: b"conversion threads" in log.read_bytes(), 30, "worker start")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_SECONDS)


def job_row(database: Path, step: Path | None = None) -> tuple[str, str | None, int, str | None]:
    """(status, worker, attempts, error) of the only conversion job, or of `step`'s job."""
    query, args = "SELECT status, worker, attempts, error FROM conversion_jobs", ()
    if step is not None:
        query, args = query + " WHERE step_sha256 = ?", (sha256(step.read_bytes()).hexdigest(),)
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        rows = db.execute(query, args).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def new_part(port: int) -> int:
    status, part = request(port, "POST", "/api/parts/", PART)
    assert status == 201, part
    return int(part["id"])


def model_status(port: int, part_id: int) -> str:
    return request(port, "GET", f"/api/parts/{part_id}")[1]["modelStatus"]


def fetch_model(port: int, part_id: int) -> tuple[int, bytes]:
    import http.client

    from tests.test_e2e_servers import KEY

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with closing(connection):
        connection.request("GET", f"/api/parts/{part_id}/model", headers={"X-API-Key": KEY})
        response = connection.getresponse()
        return response.status, response.read()


def queued(prefix: str) -> int:
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2) as client:
        return sum(client.llen(key) for key in client.scan_iter(f"*{prefix}*") if
                   client.type(key) == b"list")  # fmt: skip


def test_embedded_run_py_alone_converts_a_fixture(tmp_path):
    port = free_port()
    env = server_env(tmp_path, FLASK_ENV="development", PORT=str(port), HOST="127.0.0.1")
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "run.py")],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(process, port, log)
        part_id = new_part(port)
        assert upload_step(port, part_id, need(SCREW)) == 201
        wait_until(lambda: model_status(port, part_id) != "pending", 90, "model")
        status, glb = fetch_model(port, part_id)
        assert (status, glb[:4]) == (200, b"glTF")
        # run.py loads the sample parts, whose sample STEP is converted too.
        assert job_row(tmp_path / "parts.db", need(SCREW))[0] == "ready"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_SECONDS) == 0, log.read_text()


def test_a_worker_in_another_folder_converts_and_the_server_converts_nothing(
    tmp_path, redis_prefix
):
    port, env = free_port(), shared_env(tmp_path, redis_prefix)
    with serving(deploy_command("prod", port), tmp_path, env, port) as server:
        with worker(env, tmp_path / "worker-host") as running:
            part_id = new_part(port)
            assert upload_step(port, part_id, need(SCREW)) == 201
            wait_until(lambda: model_status(port, part_id) != "pending", 90, "model")
            status, glb = fetch_model(port, part_id)
            assert (status, glb[:4]) == (200, b"glTF")
            assert converters(server.pid) == []
        worker_log = running.log.read_text()  # type: ignore[attr-defined]
    assert job_row(tmp_path / "parts.db")[:3] == ("ready", None, 1)
    assert " ready" in worker_log and "conversion " in worker_log
    server_logs = "".join(path.read_text() for path in tmp_path.glob("server-*.log"))
    assert "conversion " not in server_logs  # 0 conversions in the web process


def test_kill_9_of_a_worker_mid_conversion_then_a_new_worker_resumes(tmp_path, redis_prefix):
    port, env = free_port(), shared_env(tmp_path, redis_prefix)
    database = tmp_path / "parts.db"
    with serving(deploy_command("prod", port), tmp_path, env, port) as server:
        with worker(env, tmp_path / "worker-a") as first:
            part_id = new_part(port)
            assert upload_step(port, part_id, need(SLOW_STEP)) == 201
            wait_until(lambda: converters(first.pid), CONVERSION_START_DEADLINE, "converter")
            status, worker_id, attempts, _ = job_row(database)
            assert (status, attempts) == ("running", 1)
            assert worker_id.endswith(f":{first.pid}")  # the worker converts, not the server
            killed = [first.pid, *descendants(first.pid)]
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=STOP_SECONDS)
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in killed), 10, "reap")
        assert model_status(port, part_id) == "pending"
        with worker(env, tmp_path / "worker-b") as second:
            wait_until(
                lambda: model_status(port, part_id) != "pending", CONVERSION_DONE_DEADLINE, "model"
            )
            assert converters(server.pid) == []
        assert second.returncode == 0
    assert job_row(database)[:3] == ("ready", None, 2)


def test_a_poison_file_fails_once_and_is_not_retried_for_ever(tmp_path, redis_prefix):
    port, env = free_port(), shared_env(tmp_path, redis_prefix)
    poison = tmp_path / "poison.step"
    poison.write_bytes(POISON)
    # The worker starts first, on a database no server has migrated yet.
    with worker(env, tmp_path / "worker-host"):
        with serving(deploy_command("prod", port), tmp_path, env, port):
            part_id = new_part(port)
            assert upload_step(port, part_id, poison) == 201
            wait_until(lambda: model_status(port, part_id) != "pending", 60, "failure")
            # Several sweeps later: still failed once, nothing left queued for it.
            time.sleep(5)
            status, worker_id, attempts, error = job_row(tmp_path / "parts.db")
            assert (status, worker_id, attempts) == ("failed", None, 1)
            assert error and str(tmp_path) not in error
            assert queued(redis_prefix) == 0
            assert model_status(port, part_id) == "failed"
