"""setup_backend_service.sh: --dry-run output, refusals, shellcheck and systemd-analyze verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_create_config import STANDALONE_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRIPT_NAME = "setup_backend_service.sh"
UNIT_DIR = Path("/etc/systemd/system")
# Names no real machine uses, so a leak into /etc or /etc/passwd is easy to spot.
TEST_USER = "pmsdrytest"
TEST_SERVICE = "pms-dry-run-test"


@pytest.fixture
def project() -> Iterator[Path]:
    """A copy of the files the script needs, in a world-readable folder, plus a venv stand-in."""
    # Not tmp_path: its parents are private to root, and one test runs as an unprivileged user.
    folder = Path(tempfile.mkdtemp(prefix="pms-setup-"))
    folder.chmod(0o755)
    (folder / "utils").mkdir()
    for name in (SCRIPT_NAME, *STANDALONE_FILES):
        shutil.copy(PROJECT_ROOT / name, folder / name)
    (folder / "deploy.py").write_text("", encoding="utf-8")
    (folder / "requirements.txt").write_text("flask\n", encoding="utf-8")
    (folder / "venv" / "bin").mkdir(parents=True)
    (folder / "venv" / "bin" / "python").symlink_to(sys.executable)
    yield folder
    shutil.rmtree(folder)


def run_setup(
    project: Path, *args: str, prefix: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the copied script with test names for the user and the service."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "UV_BIN": ""}
    settings = {
        "SERVICE_USER": TEST_USER,
        "SERVICE_NAME": TEST_SERVICE,
        "VENV_PATH": str(project / "venv"),
        "PYTHON_BIN": sys.executable,
        **env,
    }
    command = [*prefix, "bash", str(project / SCRIPT_NAME), *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**base, **settings},
        timeout=120,
        check=False,
    )


def unit_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_help_lists_every_override(project: Path) -> None:
    result = run_setup(project, "--help")

    assert result.returncode == 0
    names = ("SERVICE_USER", "SERVICE_GROUP", "SERVICE_PORT", "SERVICE_HOST", "SERVICE_MODE")
    for name in (*names, "UV_BIN"):
        assert name in result.stdout


def test_dry_run_honours_environment_overrides(project: Path) -> None:
    result = run_setup(
        project,
        "--dry-run",
        SERVICE_GROUP="pmsdrygroup",
        SERVICE_PORT="8123",
        SERVICE_MODE="prod-waitress",
        SERVICE_HOST="127.0.0.1",
    )

    lines = unit_lines(result)
    assert f"User={TEST_USER}" in lines
    assert "Group=pmsdrygroup" in lines
    assert f"WorkingDirectory={project}" in lines
    expected = f"{project}/venv/bin/python {project}/deploy.py prod-waitress --port 8123"
    assert f"ExecStart={expected} --host 127.0.0.1" in lines
    assert f"would write {UNIT_DIR}/{TEST_SERVICE}.service" in result.stderr
    assert "useradd --system --gid pmsdrygroup" in result.stderr
    assert f"create_config.py --non-interactive --output {project}/config.json" in result.stderr


@pytest.mark.parametrize(
    "line",
    [
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "Environment=FLASK_ENV=production",
        "CapabilityBoundingSet=",
        "WantedBy=multi-user.target",
    ],
)
def test_dry_run_unit_has_hardening_line(project: Path, line: str) -> None:
    assert line in unit_lines(run_setup(project, "--dry-run"))


def test_dry_run_unit_writes_only_to_data_folders(project: Path) -> None:
    lines = unit_lines(run_setup(project, "--dry-run"))

    writable = next(line for line in lines if line.startswith("ReadWritePaths="))
    folders = writable.removeprefix("ReadWritePaths=").split()
    assert folders == [str(project / name) for name in ("data", "instance", "uploads")]


def test_folders_from_config_json_become_read_write_paths(project: Path) -> None:
    settings = {"UPLOAD_FOLDER": "/srv/pms-test/files", "DATABASE_URL": "sqlite:///db/parts.db"}
    (project / "config.json").write_text(json.dumps(settings), encoding="utf-8")

    result = run_setup(project, "--dry-run")

    writable = next(line for line in unit_lines(result) if line.startswith("ReadWritePaths="))
    assert "/srv/pms-test/files" in writable.split("=", 1)[1].split()
    assert str(project / "db") in writable
    assert "create_config.py --non-interactive" not in result.stderr  # the file exists


def test_database_in_the_project_folder_is_refused(project: Path) -> None:
    settings = {"DATABASE_URL": "sqlite:///parts_prod.db"}
    (project / "config.json").write_text(json.dumps(settings), encoding="utf-8")

    result = run_setup(project, "--dry-run")

    assert result.returncode != 0
    assert "holds the project itself" in result.stderr
    assert result.stdout == ""


def test_venv_under_home_makes_protect_home_read_only(project: Path) -> None:
    lines = unit_lines(run_setup(project, "--dry-run", VENV_PATH="/home/pms-test/venv"))

    assert "ProtectHome=read-only" in lines


def test_protect_home_hides_home_unless_something_lives_there(project: Path) -> None:
    interpreter = str(Path(sys.executable).resolve())
    in_home = interpreter.startswith(("/home/", "/root/"))

    lines = unit_lines(run_setup(project, "--dry-run"))

    assert ("ProtectHome=read-only" if in_home else "ProtectHome=yes") in lines


def test_default_unit_runs_the_default_production_server_on_every_interface(
    project: Path,
) -> None:
    lines = unit_lines(run_setup(project, "--dry-run"))

    expected = f"{project}/venv/bin/python {project}/deploy.py prod-waitress --port 8000"
    assert f"ExecStart={expected} --host 0.0.0.0" in lines


def test_low_port_keeps_only_the_bind_capability(project: Path) -> None:
    lines = unit_lines(run_setup(project, "--dry-run", SERVICE_PORT="80"))

    assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" in lines
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in lines


def test_dry_run_changes_nothing(project: Path) -> None:
    before = sorted(path.name for path in project.iterdir())

    result = run_setup(project, "--dry-run")

    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in project.iterdir()) == before
    assert not (UNIT_DIR / f"{TEST_SERVICE}.service").exists()
    assert TEST_USER not in Path("/etc/passwd").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SERVICE_MODE": "prod-multi"}, "SERVICE_MODE must be"),
        ({"SERVICE_USER": "root"}, "must not run as root"),
        ({"SERVICE_PORT": "abc"}, "SERVICE_PORT must be"),
        ({"SERVICE_PORT": "70000"}, "SERVICE_PORT must be"),
        ({"SERVICE_HOST": "0.0.0.0; rm -rf /"}, "SERVICE_HOST must be"),
        ({"SERVICE_NAME": "bad name"}, "SERVICE_NAME is not"),
        ({"VENV_PATH": "relative/venv"}, "must be an absolute path"),
        ({"VENV_PATH": "/opt/with space/venv"}, "cannot take"),
    ],
)
def test_bad_overrides_are_refused(project: Path, env: dict[str, str], message: str) -> None:
    result = run_setup(project, "--dry-run", **env)

    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_unknown_argument_is_refused(project: Path) -> None:
    result = run_setup(project, "--yes")

    assert result.returncode != 0
    assert "unknown argument" in result.stderr


def unprivileged_prefix() -> tuple[str, ...]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop to an unprivileged user")
    return ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def test_dry_run_works_without_root_and_real_run_requires_it(project: Path) -> None:
    prefix = unprivileged_prefix()
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None:
        pytest.skip("no system python3 the unprivileged user can run")
    env = {"VENV_PATH": str(project / "missing-venv"), "PYTHON_BIN": system_python}

    dry = run_setup(project, "--dry-run", prefix=prefix, **env)
    real = run_setup(project, prefix=prefix, **env)

    assert dry.returncode == 0, dry.stderr
    assert "ProtectSystem=strict" in dry.stdout
    assert real.returncode != 0
    assert "run as root" in real.stderr


def test_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    # Every optional check except the brace-every-variable style rule.
    command = [shellcheck, "--enable=all", "--exclude=SC2250", str(PROJECT_ROOT / SCRIPT_NAME)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout


def test_dry_run_unit_passes_systemd_analyze_verify(project: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    unit = tmp_path / f"{TEST_SERVICE}.service"
    unit.write_text(run_setup(project, "--dry-run").stdout, encoding="utf-8")

    # Only this unit is loaded; warnings about it name its file, others are the host's business.
    command = [analyze, "verify", "--man=no", str(unit)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    assert unit.name not in result.stderr, result.stderr
