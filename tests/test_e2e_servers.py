"""Real servers on 127.0.0.1: gunicorn and waitress through run_prod.py and deploy.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.databases import servers_required
from utils.limit_leases import lease_size

pytestmark = pytest.mark.skipif(os.name == "nt", reason="gunicorn and POSIX signals")

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEPLOY = str(PROJECT_DIR / "deploy.py")
KEY = "e2e-" + "k" * 40
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
START_DEADLINE_SECONDS = 30
STOP_DEADLINE_SECONDS = 15
WORKERS = 4
# Two requests per worker in all, not per worker.
RATE_LIMIT = 2 * WORKERS
STATS = "/api/parts/stats"
# An operator's way to turn gunicorn's access log on; deploy.py's format still applies.
ACCESS_LOG_ON = "--access-logfile -"
PART = {"name": "Drive Gear", "type": "cnc", "material": "7075 Aluminum", "subsystem": "Drive"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean production environment: nothing from this machine's config or shell."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(
        FLASK_ENV="production",
        SECRET_KEY=KEY,
        DATABASE_URL=f"sqlite:///{tmp_path / 'parts.db'}",
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
        CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def redis_reachable() -> str | None:
    """None when Redis answers PING, else why not."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            reply = connection.recv(64)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if reply.startswith(b"+PONG") else f"unexpected reply {reply!r}"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of our own in the machine's Redis; skipped (or failed in CI) without it."""
    reason = redis_reachable()
    if reason:
        message = f"Redis unreachable at {REDIS_HOST}:{REDIS_PORT}: {reason}"
        if servers_required():
            pytest.fail(message + " (CI requires it)", pytrace=False)
        pytest.skip(message)
    prefix = f"e2e-{uuid.uuid4().hex[:12]}"
    yield prefix
    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2) as client:
        keys = list(client.scan_iter(f"*{prefix}*"))
        if keys:
            client.delete(*keys)


@contextmanager
def running(command: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[Path]:
    """Start a server in its own process group, wait for /health, always stop it."""
    log = cwd / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(process, port, log)
        yield log
        assert stop(process) == 0, log.read_text()
        # The signal reached the server itself (deploy.py exec'd it): nothing still listens.
        assert not port_open(port), "the server outlived the process that was signalled"
    finally:
        if process.poll() is None:
            process.kill()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=STOP_DEADLINE_SECONDS)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the PID we started, as a service manager does; its exit status."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=STOP_DEADLINE_SECONDS)


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if request(port, "GET", "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server not healthy within {START_DEADLINE_SECONDS} s:\n{log.read_text()}")


def request(
    port: int, method: str, path: str, body: Any = None, key: str | None = KEY
) -> tuple[int, Any]:
    headers = {"X-API-Key": key} if key else {}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return response.status, json.loads(raw) if raw else None


def crud_cycle(port: int) -> None:
    """Create, get, list, update, approve and delete one part over HTTP."""
    status, created = request(port, "POST", "/api/parts/", {**PART, "amount": 2})
    assert status == 201, created
    url = f"/api/parts/{created['id']}"
    status, fetched = request(port, "GET", url)
    assert (status, fetched["name"], fetched["amount"]) == (200, "Drive Gear", 2)
    status, listed = request(port, "GET", "/api/parts/")
    assert status == 200 and [p["id"] for p in listed["parts"]] == [created["id"]]
    status, updated = request(port, "PUT", url, {"notes": "Deburr edges"})
    assert (status, updated["notes"]) == (200, "Deburr edges")
    status, approved = request(port, "POST", f"{url}/approve", {"reviewer": "Ms. Rivera"})
    assert (status, approved["category"], approved["status"]) == (200, "cnc", "Reviewed")
    assert request(port, "DELETE", url)[0] == 200
    assert request(port, "GET", url)[0] == 404
    assert request(port, "GET", "/api/parts/")[1]["total"] == 0


def one_request_per_worker(port: int, path: str = STATS) -> list[int]:
    """WORKERS requests on WORKERS different workers, as statuses.

    A sync worker that accepted an unfinished request waits for the rest of it, so each of
    these connections is taken by another worker before any of them is completed.
    """
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n".encode()
    with ExitStack() as stack:
        connections = []
        for _ in range(WORKERS):
            connection = stack.enter_context(socket.create_connection(("127.0.0.1", port), 10))
            connection.sendall(head)
            connections.append(connection)
        time.sleep(0.5)  # every idle worker accepts one of them meanwhile
        for connection in connections:
            connection.sendall(b"Connection: close\r\n\r\n")
        return [status_of(connection) for connection in connections]


def status_of(connection: socket.socket) -> int:
    reply = b""
    while chunk := connection.recv(65536):
        reply += chunk
    return int(reply.split(b" ", 2)[1])


def served_by(log: Path, path: str, status: int) -> list[str]:
    """The worker pids in gunicorn's access lines for path answered with status."""
    return re.findall(rf'"GET {path} HTTP/1.1" {status} .* pid=(\S+)', log.read_text())


def wait_for_every_worker(port: int, log: Path) -> None:
    """/health (not rate limited) until one round reaches every worker: all have booted."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while len(set(served_by(log, "/health", 200)[-WORKERS:])) < WORKERS:
        assert time.monotonic() < deadline, f"not every worker answered:\n{log.read_text()}"
        assert one_request_per_worker(port, "/health") == [200] * WORKERS
        time.sleep(0.2)  # the access lines reach the log file


@pytest.mark.parametrize("storage", ["redis", "default file"])
def test_gunicorn_four_workers_serve_crud_and_share_the_limit(tmp_path, request, storage):
    # Without RATELIMIT_STORAGE_URI, deploy.py has the workers count in a file beside parts.db.
    shared = {}
    if storage == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        redis_uri = f"redis://{REDIS_HOST}:{REDIS_PORT}"
        shared = {"RATELIMIT_STORAGE_URI": redis_uri, "RATELIMIT_KEY_PREFIX": prefix}
    port = free_port()
    limit = f"{RATE_LIMIT} per minute"
    env = server_env(tmp_path, GUNICORN_CMD_ARGS=ACCESS_LOG_ON, RATELIMIT_DEFAULT=limit, **shared)
    command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port), "--host", "127.0.0.1"]
    # Sync workers (--threads 1): each takes one connection, so requests reach all of them.
    with running(
        [*command, "--workers", str(WORKERS), "--threads", "1"], tmp_path, env, port
    ) as log:
        crud_cycle(port)
        wait_for_every_worker(port, log)
        allowed = one_request_per_worker(port) + one_request_per_worker(port)
        refused = one_request_per_worker(port)
    assert allowed == [200] * RATE_LIMIT
    # One counter for all workers: per-worker counters would allow WORKERS x RATE_LIMIT.
    assert refused == [429] * WORKERS
    allowed_by = served_by(log, STATS, 200)
    assert len(allowed_by) == RATE_LIMIT and len(set(allowed_by)) == WORKERS
    if storage == "redis":
        with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=2) as client:
            assert list(client.scan_iter(f"*{shared['RATELIMIT_KEY_PREFIX']}*")), "no keys"
    else:
        with contextlib.closing(sqlite3.connect(tmp_path / "parts.rate-limits.db")) as file:
            assert file.execute("SELECT count(*) FROM windows").fetchone()[0] > 0


def test_gunicorn_workers_lease_a_large_limit_and_never_pass_it(tmp_path):
    """From 200 per window up each worker reserves a few hits at a time (utils.limit_leases):
    together the workers never allow more than the limit, and refuse at most the others'
    unused reservations early."""
    port, amount = free_port(), 200
    lease = lease_size(amount)
    assert lease > 1
    env = server_env(
        tmp_path, GUNICORN_CMD_ARGS=ACCESS_LOG_ON, RATELIMIT_DEFAULT=f"{amount} per minute"
    )
    command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port), "--host", "127.0.0.1"]
    command += ["--workers", str(WORKERS), "--threads", "1"]
    with running(command, tmp_path, env, port) as log:
        wait_for_every_worker(port, log)
        # One after another: the workers take turns accepting (every one serves some).
        statuses = [request(port, "GET", STATS)[0] for _ in range(amount + 20)]
    assert set(statuses) == {200, 429}
    assert amount - (WORKERS - 1) * (lease - 1) <= statuses.count(200) <= amount
    assert len(set(served_by(log, STATS, 200))) == WORKERS


def test_gunicorn_workers_share_the_whole_list_in_a_folder_of_their_run(tmp_path):
    # gunicorn.conf.py's master makes the folder (in TMPDIR) and removes it at exit.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = free_port()
    env = server_env(tmp_path, GUNICORN_CMD_ARGS=ACCESS_LOG_ON, TMPDIR=str(temporary))
    command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port), "--host", "127.0.0.1"]
    command += ["--workers", str(WORKERS), "--threads", "1"]
    with running(command, tmp_path, env, port) as log:
        wait_for_every_worker(port, log)
        [folder] = temporary.glob("aerie-bodies-*")
        assert request(port, "POST", "/api/parts/", PART)[0] == 201
        assert one_request_per_worker(port, "/api/parts/") == [200] * WORKERS
        assert len(set(served_by(log, "/api/parts/", 200))) == WORKERS
        [kept] = folder.glob("list-*.json")
        status, listed = request(port, "GET", "/api/parts/")
        assert status == 200 and [p["name"] for p in listed["parts"]] == [PART["name"]]
        assert json.loads(kept.read_bytes().partition(b"\n")[2]) == listed
        # gunicorn takes SCRIPT_NAME from a header of a client on this host unless told not
        # to: /api/parts/ would then route as / (the web app), past the API and its key check.
        assert header_moves_root(port) == (401, "application/json")
    assert not folder.exists()


def header_moves_root(port: int) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/parts/", headers={"SCRIPT_NAME": "/api/parts"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Content-Type", "")
    finally:
        connection.close()


def _answers(port: int) -> bool:
    try:
        return request(port, "GET", "/health")[0] == 200
    except OSError:
        return False


def test_the_run_folder_outlives_a_reload_and_goes_at_exit(tmp_path):
    # gunicorn run directly with the project's file; SIGHUP re-reads the file (new workers).
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    port = free_port()
    env = server_env(tmp_path, PYTHONPATH=str(PROJECT_DIR), TMPDIR=str(temporary))
    conf = str(PROJECT_DIR / "gunicorn.conf.py")
    command = [sys.executable, "-m", "gunicorn", "-c", conf, "-w", "2"]
    command += ["-b", f"127.0.0.1:{port}", "run_prod:app"]
    with running(command, tmp_path, env, port) as log:
        [folder] = temporary.glob("aerie-bodies-*")
        master = int(re.search(r"\[(\d+)\] \[INFO\] Starting gunicorn", log.read_text())[1])
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        # The new workers booted, the old ones gone: then nothing resets a connection.
        while log.read_text().count("Worker exiting") < 2 or not _answers(port):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert request(port, "POST", "/api/parts/", PART)[0] == 201
        assert request(port, "GET", "/api/parts/")[1]["total"] == 1
        assert list(folder.glob("list-*.json"))  # the reloaded workers still share it
    assert not folder.exists()


def test_gunicorn_run_directly_with_several_workers_shares_the_wrong_key_count(tmp_path):
    """`gunicorn -c gunicorn.conf.py -w 3 run_prod:app` with the default memory:// limits:
    each worker counted alone, so 3 × 30 wrong keys a minute got through. The master now
    points the workers at the host's file, as deploy.py prod-gunicorn does."""
    port = free_port()
    env = server_env(tmp_path, PYTHONPATH=str(PROJECT_DIR), AUTH_FAILURE_LIMIT="5 per minute")
    conf = str(PROJECT_DIR / "gunicorn.conf.py")
    command = [sys.executable, "-m", "gunicorn", "-c", conf, "-w", "3"]
    command += ["-b", f"127.0.0.1:{port}", "run_prod:app"]
    with running(command, tmp_path, env, port) as log:
        # Each request on a new connection, so they spread over the workers.
        answers = [request(port, "GET", "/api/parts/", key="wrong")[0] for _ in range(12)]
        assert "3 workers share their rate limits" in log.read_text()
    assert answers == [401] * 5 + [429] * 7
    assert (tmp_path / "parts.rate-limits.db").exists()


def test_deploy_waitress_serves_crud_from_another_folder(tmp_path):
    port = free_port()
    command = [sys.executable, DEPLOY, "prod-waitress", "--port", str(port), "--host", "127.0.0.1"]
    with running(command, tmp_path, server_env(tmp_path), port) as log:
        crud_cycle(port)
    assert f"Serving on http://127.0.0.1:{port}" in log.read_text()


@pytest.mark.parametrize("source", ["command line", "environment", "config.json"])
def test_deploy_with_busy_port_exits_non_zero_with_reason(tmp_path, source):
    """The busy port is given in `source`; free ports sit in the places it must beat."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port, other = busy.getsockname()[1], free_port()
        env_port = {"command line": other, "environment": port}.get(source)
        env = server_env(tmp_path, **({"PORT": str(env_port)} if env_port else {}))
        file_port = port if source == "config.json" else other
        env["CONFIG_FILE"] = str(tmp_path / "config.json")
        Path(env["CONFIG_FILE"]).write_text(json.dumps({"PORT": file_port}))
        command = [sys.executable, DEPLOY, "prod-waitress", "--host", "127.0.0.1"]
        command += ["--port", str(port)] if source == "command line" else []
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert f"PORT: {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_deploy_generates_key_into_private_config_and_never_prints_it(tmp_path):
    port = free_port()
    env = server_env(tmp_path, GUNICORN_CMD_ARGS=ACCESS_LOG_ON)
    del env["SECRET_KEY"]
    config_file = tmp_path / "config.json"
    config_file.write_text("{}")  # a file CONFIG_FILE names must exist; this one has no key
    env["CONFIG_FILE"] = str(config_file)
    command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port), "--host", "127.0.0.1"]
    with running([*command, "--workers", "2"], tmp_path, env, port) as log:
        key = json.loads(config_file.read_text())["SECRET_KEY"]
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
        assert len(key) >= 32
        assert request(port, "GET", "/api/parts/", key=key)[0] == 200
        # The query string form must not reach any access log either.
        assert request(port, "GET", f"/api/parts/?api_key={key}", key=None)[0] == 200
        assert request(port, "GET", "/api/parts/", key="wrong-" + "x" * 40)[0] == 401
    output = log.read_text()
    assert f"generated one and stored it in {config_file}" in output
    assert "api_key=[redacted]" in output  # the app's access line
    assert '"GET /api/parts/ HTTP/1.1" 200' in output  # gunicorn's, without the query
    assert key not in output


@pytest.mark.parametrize("entry", ["deploy.py", "gunicorn run_prod:app"])
def test_unreachable_redis_refuses_to_start_with_reason(tmp_path, entry):
    port = free_port()
    storage = f"redis://:pw-not-shown@127.0.0.1:{free_port()}"
    env = server_env(tmp_path, PYTHONPATH=str(PROJECT_DIR), RATELIMIT_STORAGE_URI=storage)
    if entry == "deploy.py":
        command = [sys.executable, DEPLOY, "prod-gunicorn", "--port", str(port)]
        command += ["--host", "127.0.0.1"]
    else:
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
        command += ["run_prod:app"]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=45
    )
    assert result.returncode != 0
    assert "cannot reach the rate-limit storage at 127.0.0.1:" in result.stderr
    assert "pw-not-shown" not in result.stderr
    # No frame of ours; gunicorn's arbiter itself may print a HaltServer traceback when
    # several workers fail to boot at the same moment.
    frames = re.findall(r'File "([^"]+)"', result.stderr)
    assert [f for f in frames if f.startswith(str(PROJECT_DIR)) and sys.prefix not in f] == []
    if entry == "deploy.py":
        assert "Traceback" not in result.stderr and result.returncode == 2
    assert not port_open(port)
