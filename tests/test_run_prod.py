"""run_prod.py: the production app importable from any folder, a bad configuration in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN_PROD = Path(__file__).resolve().parents[1] / "run_prod.py"
GOOD_KEY = "run-prod-" + "k" * 40
# Loads run_prod by its file path, so only run_prod itself can put the project on sys.path.
LOAD_BY_PATH = (
    "import importlib.util, sys\n"
    f"spec = importlib.util.spec_from_file_location('run_prod', {str(RUN_PROD)!r})\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(module.app.config['FLASK_ENV'], module.app.config['SECRET_KEY'] == sys.argv[1])\n"
)


def production_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """No setting from this machine: no config file, a temp database."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(
        CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
        DATABASE_URL=f"sqlite:///{tmp_path / 'parts.db'}",
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
        SECRET_KEY=GOOD_KEY,
    )
    env.update(settings)
    return {key: value for key, value in env.items() if value != ""}


def run_python(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_run_prod_loads_production_app_from_another_folder(tmp_path):
    result = run_python(tmp_path, production_env(tmp_path), "-c", LOAD_BY_PATH, GOOD_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["production", "True"]
    assert (tmp_path / "parts.db").is_file()


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 32 characters"),
        ({"SECRET_KEY": "dev-secret-key-change-in-production"}, "published placeholder"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"PORT": "eighty"}, "PORT must be a whole number"),
    ],
)
def test_run_prod_bad_configuration_exits_with_one_line(tmp_path, settings, reason):
    env = production_env(tmp_path, **settings)
    result = run_python(tmp_path, env, "-c", LOAD_BY_PATH, GOOD_KEY)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_prod: configuration error: ")
    assert reason in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_run_prod_run_directly_prints_usage_without_serving(tmp_path):
    result = run_python(tmp_path, production_env(tmp_path, SECRET_KEY=""), str(RUN_PROD))
    assert result.returncode == 1
    assert "run_prod:app" in result.stdout and "deploy.py prod-gunicorn" in result.stdout
    assert result.stderr == ""
