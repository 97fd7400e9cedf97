"""A start-up mistake is one line naming the setting and exit 2, on every start path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import DEFAULT_SERVER_URLS, servers_required, unreachable_reason
from tests.test_e2e_servers import KEY, free_port, port_open

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WRONG_PASSWORD = "wrong-pw-not-shown"
# (id, DATABASE_URL template, the server it needs, what the line must say)
MISTAKES = [
    ("pg-no-such-db", "postgresql://postgres@127.0.0.1:5432/aerie_no_such_db", "postgresql",
     "aerie_no_such_db"),
    ("pg-closed-port", "postgresql://postgres@127.0.0.1:{closed}/test", None, "127.0.0.1:"),
    ("mariadb-wrong-password", f"mariadb://root:{WRONG_PASSWORD}@127.0.0.1:3306/test", "mariadb",
     "Access denied"),
    ("scheme-typo", "sqlit:///parts.db", None, "unknown database type 'sqlit'"),
    ("sqlite-missing-folder", "sqlite:////nonexistent-aerie/dir/x.db", None,
     "/nonexistent-aerie/dir does not exist"),
]  # fmt: skip
ENTRIES = ["run.py", "deploy.py prod", "deploy.py prod-gunicorn", "waitress-serve", "gunicorn"]


def _command(entry: str, port: int) -> list[str]:
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return {
        "run.py": [sys.executable, str(PROJECT_DIR / "run.py")],
        "deploy.py prod": [sys.executable, str(PROJECT_DIR / "deploy.py"), "prod", *address],
        "deploy.py prod-gunicorn": [
            sys.executable, str(PROJECT_DIR / "deploy.py"), "prod-gunicorn", *address
        ],
        "waitress-serve": [str(BIN / "waitress-serve"), *address, "run_prod:app"],
        "gunicorn": [
            str(BIN / "gunicorn"), "-c", str(PROJECT_DIR / "gunicorn.conf.py"),
            "-b", f"127.0.0.1:{port}", "run_prod:app",
        ],
    }[entry]  # fmt: skip


def _start(entry: str, port: int, tmp_path: Path, **settings: str) -> subprocess.CompletedProcess:
    """Start `entry` on a SQLite file of its own with these settings; it should refuse."""
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_DIR),  # waitress-serve and gunicorn import run_prod
        "CONFIG_FILE": os.devnull,  # no settings file, not this machine's config.json
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parts.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "SECRET_KEY": KEY,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        **({} if entry == "run.py" else {"FLASK_ENV": "production"}),
        **settings,
    }
    return subprocess.run(
        _command(entry, port), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def _needs(server: str | None) -> None:
    if server is None:
        return
    reason = unreachable_reason(DEFAULT_SERVER_URLS[server])
    if reason:
        if servers_required():
            pytest.fail(f"{server} unreachable: {reason} (CI requires it)", pytrace=False)
        pytest.skip(f"{server} unreachable: {reason}")


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("url", "server", "says"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_database_mistake_is_one_line_and_exit_2(tmp_path, entry, url, server, says):
    _needs(server)
    port = free_port()
    result = _start(entry, port, tmp_path, DATABASE_URL=url.format(closed=free_port()))
    ours = [line for line in result.stderr.splitlines() if "DATABASE_URL" in line]
    assert len(ours) == 1, result.stderr
    assert says in ours[0]
    assert WRONG_PASSWORD not in result.stderr
    assert "Traceback" not in result.stderr
    assert not port_open(port)
    assert not Path("/nonexistent-aerie").exists()
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    if entry == "gunicorn":
        # The project's gunicorn.conf.py checks in the master; gunicorn logs its start first.
        assert len(lines) == 2 and "[INFO] Starting gunicorn" in lines[0]
        lines = lines[1:]
    assert lines == ours


# (id, environment, the setting the line names, what it must say)
SETTING_MISTAKES = [
    ("log-level-unknown", {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "must be one of DEBUG"),
    ("task-queue-unreachable", {"TASK_QUEUE_URL": "redis://127.0.0.1:{closed}/0"},
     "TASK_QUEUE_URL", "cannot reach the task queue at 127.0.0.1:"),
    # It started, and every API request was a 500.
    ("rate-limit-unreadable", {"RATELIMIT_DEFAULT": "lots"}, "RATELIMIT_DEFAULT", "must be like"),
    ("negative-count", {"UPLOAD_MAX_BYTES": "-5"}, "UPLOAD_MAX_BYTES", "must not be negative"),
    # A mistyped path started the server on the defaults without a word.
    ("config-file-missing", {"CONFIG_FILE": "/nonexistent-aerie/confg.json"}, "CONFIG_FILE",
     "no file at /nonexistent-aerie/confg.json"),
]  # fmt: skip


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("settings", "name", "says"),
    [m[1:] for m in SETTING_MISTAKES],
    ids=[m[0] for m in SETTING_MISTAKES],
)
def test_setting_mistake_is_one_line_and_exit_2(tmp_path, entry, settings, name, says):
    port = free_port()
    mistake = {key: value.format(closed=free_port()) for key, value in settings.items()}
    result = _start(entry, port, tmp_path, **mistake)
    lines = result.stderr.strip().splitlines()
    if entry == "gunicorn":
        assert "[INFO] Starting gunicorn" in lines[0], result.stderr
        lines = lines[1:]
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and says in lines[0]
    assert not port_open(port)
    assert result.returncode == 2


def test_waitress_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path):
    """Issue 8's own example: waitress-serve on a busy port printed a 20-line OSError."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _start("waitress-serve", port, tmp_path)
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"run_prod: configuration error: PORT: {port} on 127.0.0.1 is already in "
        "use (another server?); stop it or pass --port"
    ], result.stderr
    assert result.returncode == 2
