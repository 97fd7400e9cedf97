"""After the production set-up, the development commands never touch production's data."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from config import DEV_SECRET_KEY, PROJECT_ROOT
from run import debug_enabled
from tests.test_e2e_servers import free_port, request, running

# What a fresh clone needs to run (tests, bench and docs left out).
PROJECT_ENTRIES = (
    "app", "models", "routes", "utils", "migrations", "dist",
    "config.py", "run.py", "run_prod.py", "deploy.py", "create_config.py",
)  # fmt: skip


def _copy_project(target: Path) -> Path:
    target.mkdir()
    for name in PROJECT_ENTRIES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def _env(**extra: str) -> dict[str, str]:
    """No FLASK_ENV, SECRET_KEY or DATABASE_URL from the machine: only the project's files."""
    base = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING"}
    return {**base, **extra}


def _digest(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("parts.db*"))
        if not path.name.endswith("migrate-lock")
    }


@pytest.fixture
def production_project(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the project set up for production as the README says, with one part."""
    project = _copy_project(tmp_path / "backend")
    setup = [sys.executable, "create_config.py", "--non-interactive"]
    setup += ["--set", "FLASK_ENV=production", "--set", "DATABASE_URL=sqlite:///data/parts.db"]
    subprocess.run(setup, cwd=project, env=_env(), check=True, capture_output=True, timeout=60)
    key = json.loads((project / "config.json").read_text())["SECRET_KEY"]
    port = free_port()
    command = [sys.executable, "deploy.py", "prod", "--port", str(port), "--host", "127.0.0.1"]
    with running(command, project, _env(), port):
        body = {"name": "Production part", "material": "PLA", "subsystem": "Arm"}
        status, part = request(port, "POST", "/api/parts/", body, key=key)
        assert status == 201
        assert _upload_pdf(port, part["id"], key) == 201
    assert _files(project / "uploads"), "production's file should be under uploads/"
    return project, key


def _upload_pdf(port: int, part_id: int, key: str) -> int:
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="drawing.pdf", name="file")
    boundary, body = encode_multipart({"file": pdf})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        connection.request("POST", f"/api/parts/{part_id}/upload", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("parts/**/*"))
        if path.is_file()
    }


# Processes that load the settings: deploy.py dev checks them, then becomes run.py (a new
# interpreter, the same pid). Each says once what it ignores, not once per load (it said 4).
PROCESSES = {"run.py": 1, "deploy.py dev": 2}


@pytest.mark.parametrize("entry", PROCESSES)
def test_development_ignores_the_production_config_and_database(production_project, entry):
    project, production_key = production_project
    before = _digest(project / "data")
    assert before, "the production database should exist"
    production_files = _files(project / "uploads")
    port = free_port()
    if entry == "run.py":
        command = [sys.executable, "run.py"]
        env = _env(PORT=str(port), HOST="127.0.0.1")
    else:
        command = [sys.executable, "deploy.py", "dev", "--port", str(port), "--host", "127.0.0.1"]
        env = _env()
    with running(command, project, env, port) as log:
        assert request(port, "GET", "/api/parts/", key=production_key)[0] == 401
        status, listing = request(port, "GET", "/api/parts/", key=DEV_SECRET_KEY)
        assert status == 200
        names = {part["name"] for part in listing["parts"]}
        assert "Production part" not in names and names  # the development samples
        # Development's files are its own folder's: its wipe leaves production's alone.
        assert _files(project / "uploads-dev")
        wipe = {"password": DEV_SECRET_KEY}
        assert request(port, "POST", "/api/parts/wipe", wipe, key=DEV_SECRET_KEY)[0] == 200
    assert _digest(project / "data") == before
    assert _files(project / "uploads") == production_files
    assert (project / "parts.db").is_file()  # development's own database
    output = log.read_text()
    assert output.count("is for production: development settings ignore it") == PROCESSES[entry]
    assert output.count("development uses uploads-dev instead") == PROCESSES[entry], output


def test_run_py_refuses_production_with_one_line(tmp_path):
    project = _copy_project(tmp_path / "backend")
    result = subprocess.run(
        [sys.executable, "run.py"],
        cwd=project,
        env=_env(FLASK_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: run.py is the development server: start production with deploy.py prod"
    ]


@pytest.mark.parametrize(
    ("env", "host", "expected"),
    [
        ("development", "127.0.0.1", True),
        ("development", "::1", True),
        ("development", "localhost", True),
        ("development", "0.0.0.0", False),  # noqa: S104 - the case under test
        ("development", "192.168.1.20", False),
        ("testing", "127.0.0.1", False),
    ],
)
def test_debugger_only_on_a_loopback_address(env, host, expected):
    assert debug_enabled({"FLASK_ENV": env, "HOST": host}) is expected
