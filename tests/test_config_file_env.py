"""CONFIG_FILE: a file it names must exist; /dev/null reads none; unset reads config.json."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import config
from config import ConfigError, load_settings
from tests.test_e2e_servers import free_port

PROJECT_DIR = Path(__file__).resolve().parents[1]
STRONG_KEY = "k" * 40


@pytest.fixture
def default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """config.json beside config.py, moved into tmp_path (not there yet)."""
    path = tmp_path / "project" / "config.json"
    path.parent.mkdir()
    monkeypatch.setattr(config, "DEFAULT_CONFIG_FILE", path)
    return path


@pytest.mark.parametrize("environment", ["development", "production", None])
def test_config_file_naming_a_missing_file_is_a_one_line_config_error(tmp_path, environment):
    """A mistyped path read as "no file" started on the development defaults without a word."""
    missing = tmp_path / "etc" / "confg.json"
    environ = {"CONFIG_FILE": str(missing), "SECRET_KEY": STRONG_KEY, "DATABASE_URL": "sqlite://"}
    with pytest.raises(ConfigError) as caught:
        load_settings(environment, environ=environ)
    message = str(caught.value)
    assert message.startswith(f"CONFIG_FILE: no file at {missing} ")
    assert os.devnull in message  # says how to ask for no file on purpose
    assert "\n" not in message
    assert STRONG_KEY not in message


def test_config_file_naming_a_folder_or_a_pipe_is_a_config_error(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for named in (tmp_path, pipe):
        with pytest.raises(ConfigError, match=f"CONFIG_FILE: not a file: {named} "):
            load_settings("development", environ={"CONFIG_FILE": str(named)})


def test_config_file_devnull_reads_no_file(default_file):
    default_file.write_text(json.dumps({"PORT": 6060}))
    settings = load_settings("development", environ={"CONFIG_FILE": os.devnull})
    assert settings["PORT"] == 5000  # neither config.json nor an error


@pytest.mark.parametrize("unset", [{}, {"CONFIG_FILE": ""}])
def test_without_config_file_the_default_file_is_read_and_may_be_missing(default_file, unset):
    assert load_settings("development", environ=unset)["PORT"] == 5000
    default_file.write_text(json.dumps({"PORT": 6060}))
    assert load_settings("development", environ=unset)["PORT"] == 6060


def test_config_file_that_exists_is_read_with_home_expanded(tmp_path, monkeypatch):
    """The same file create_config.py writes for CONFIG_FILE=~/…: it expands the ~ too."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "aerie.json").write_text(json.dumps({"PORT": 7070}))
    settings = load_settings("development", environ={"CONFIG_FILE": "~/aerie.json"})
    assert settings["PORT"] == 7070


def test_testing_ignores_a_missing_config_file_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFIG_FILE", str(tmp_path / "missing.json"))
    assert load_settings("testing")["PORT"] == 5000


def run(script: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    if script == "deploy.py":  # were it to start after all: loopback, a free port
        args = (*args, "--host", "127.0.0.1", "--port", str(free_port()))
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / script), *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deploy_prod_refuses_a_missing_config_file_and_writes_no_key_there(tmp_path):
    """It generated a key into the mistyped path and started on the defaults."""
    missing = tmp_path / "confg.json"
    database = f"sqlite:///{tmp_path / 'parts.db'}"
    result = run("deploy.py", tmp_path, "prod", CONFIG_FILE=str(missing), DATABASE_URL=database)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"deploy: configuration error: CONFIG_FILE: no file at {missing} (unset CONFIG_FILE "
        f"for config.json beside config.py, or set it to {os.devnull} for no file)"
    ]
    assert not missing.exists()


@pytest.fixture
def device(tmp_path: Path) -> Path:
    """A named pipe standing in for /dev/null: not a regular file, and no harm done if a
    broken write replaces it (as root, one replaced /dev/null itself)."""
    path = tmp_path / "null"
    os.mkfifo(path)
    return path


def test_deploy_stores_no_generated_key_in_a_device(device, monkeypatch):
    import deploy

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CONFIG_FILE", os.devnull)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    deploy.ensure_secret_key(device, {})
    assert stat.S_ISFIFO(device.stat().st_mode)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load_settings("production")  # what deploy.py prod says next, in one line


def test_create_config_still_creates_the_file_config_file_names(tmp_path):
    target = tmp_path / "data" / "config.json"
    target.parent.mkdir()
    result = run("create_config.py", tmp_path, "--non-interactive", CONFIG_FILE=str(target))
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["SECRET_KEY"]


def test_create_config_refuses_to_write_to_a_device(device, monkeypatch, capsys):
    import create_config

    monkeypatch.setenv("CONFIG_FILE", str(device))
    assert create_config.main(["--non-interactive"]) == 2
    assert stat.S_ISFIFO(device.stat().st_mode)
    assert capsys.readouterr().err.strip().splitlines() == [
        f"create_config: {device} is not a file to write: pass --output FILE"
    ]
