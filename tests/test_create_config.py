"""create_config.py run for real, in a subprocess, against files in a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT_ROOT / "create_config.py"
STRONG_KEY = "kept-key-" + "k" * 40
# The prompt order of create_config.PROMPTS, which the stdin answers below follow.
PROMPT_ORDER = [
    "SECRET_KEY",
    "DATABASE_URL",
    "FLASK_ENV",
    "PORT",
    "CORS_ORIGINS",
    "BASE_PATH",
    "UPLOAD_FOLDER",
    "FILE_STORE_URL",
    "S3_ENDPOINT_URL",  # asked only when FILE_STORE_URL is s3://…
    "ONSHAPE_CLIENT_ID",
    "ONSHAPE_CLIENT_SECRET",
    "ONSHAPE_REDIRECT_URI",
    "ONSHAPE_ACCESS_KEY",
    "ONSHAPE_SECRET_KEY",
    "RATELIMIT_STORAGE_URI",
    "TASK_QUEUE_URL",
]


# All that create_config.py imports: it runs on the system Python, before the venv exists.
STANDALONE_FILES = (
    "create_config.py",
    "config.py",
    "utils/__init__.py",
    "utils/settings_values.py",
    "utils/dev_apart.py",
    "utils/files_io.py",
    "utils/setting_checks.py",
    "utils/file_store_url.py",
)


def run_script(
    cwd: Path,
    *args: str,
    stdin: str = "",
    script: Path = SCRIPT,
    python: tuple[str, ...] = (sys.executable,),
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run create_config.py with a clean environment: no CONFIG_FILE, no settings."""
    clean = {key: value for key, value in os.environ.items() if key in {"PATH", "LANG", "HOME"}}
    command = [*python, str(script), *args]
    return subprocess.run(
        command,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
        check=False,
    )


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_not_printed(result: subprocess.CompletedProcess[str], secret: str) -> None:
    assert secret not in result.stdout
    assert secret not in result.stderr


def test_non_interactive_generates_strong_key_in_a_0600_file(tmp_path: Path) -> None:
    target = tmp_path / "config.json"

    result = run_script(tmp_path, "--non-interactive", "--output", str(target))

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = read_json(target)
    assert len(values["SECRET_KEY"]) >= 48
    assert values["FLASK_ENV"] == "production"
    assert values["DATABASE_URL"] == "sqlite:///data/parts.db"
    assert f"new SECRET_KEY was generated and stored in {target}" in result.stdout
    assert_not_printed(result, values["SECRET_KEY"])
    assert sorted(os.listdir(tmp_path)) == ["config.json"]  # no temporary file left behind


def test_generated_keys_differ_between_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"

    run_script(tmp_path, "--non-interactive", "--output", str(first))
    run_script(tmp_path, "--non-interactive", "--output", str(second))

    assert read_json(first)["SECRET_KEY"] != read_json(second)["SECRET_KEY"]


def test_existing_values_and_key_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    existing = {
        "SECRET_KEY": STRONG_KEY,
        "DATABASE_URL": "postgresql://pms:pw@db/pms",
        "PORT": 9001,
        "LOG_LEVEL": "DEBUG",
        "BACKUP_RETENTION_DAYS": 10,
    }
    target.write_text(json.dumps(existing), encoding="utf-8")

    result = run_script(tmp_path, "--non-interactive", "--output", str(target), "--base-path=/pms")

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert {key: values[key] for key in existing} == existing
    assert values["BASE_PATH"] == "/pms"
    assert "generated" not in result.stdout
    assert "unknown key BACKUP_RETENTION_DAYS" in result.stderr
    assert_not_printed(result, STRONG_KEY)


@pytest.mark.parametrize("weak_key", ["dev-secret-key-change-in-production", "too-short-key"])
def test_weak_key_in_existing_file_is_replaced(tmp_path: Path, weak_key: str) -> None:
    target = tmp_path / "config.json"
    target.write_text(json.dumps({"SECRET_KEY": weak_key, "PORT": 9002}), encoding="utf-8")

    result = run_script(tmp_path, "--non-interactive", "--output", str(target))

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert values["SECRET_KEY"] != weak_key
    assert len(values["SECRET_KEY"]) >= 48
    assert values["PORT"] == 9002
    assert "generated" in result.stdout
    assert_not_printed(result, values["SECRET_KEY"])


def test_rotate_secret_key_replaces_a_strong_key(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text(json.dumps({"SECRET_KEY": STRONG_KEY}), encoding="utf-8")

    result = run_script(
        tmp_path, "--non-interactive", "--rotate-secret-key", "--output", str(target)
    )

    assert result.returncode == 0, result.stderr
    assert read_json(target)["SECRET_KEY"] not in {STRONG_KEY, ""}


def test_named_flags_and_set_values_are_typed(tmp_path: Path) -> None:
    target = tmp_path / "config.json"

    result = run_script(
        tmp_path,
        "--non-interactive",
        f"--output={target}",
        "--database-url=postgresql://pms@db/pms",
        "--port=9000",
        "--set=CORS_ORIGINS=https://a.example, https://b.example",
        "--set=TRUSTED_PROXY_COUNT=1",
        "--set=LOG_JSON=yes",
        f"--set=SECRET_KEY={STRONG_KEY}",
    )

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert values["DATABASE_URL"] == "postgresql://pms@db/pms"
    assert values["PORT"] == 9000
    assert values["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert values["TRUSTED_PROXY_COUNT"] == 1
    assert values["LOG_JSON"] is True
    assert values["SECRET_KEY"] == STRONG_KEY
    assert_not_printed(result, STRONG_KEY)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--set=SECRET_KEY=changeme", "placeholder"),
        ("--set=SECRET_KEY=your-secure-secret-key-here", "placeholder"),
        ("--set=SECRET_KEY=only-twenty-chars-xx", "shorter than 32"),
        ("--set=NOT_A_SETTING=1", "unknown setting NOT_A_SETTING"),
        ("--set=PORT", "KEY=VALUE"),
        ("--port=abc", "PORT must be a number"),
        ("--port=70000", "between 1 and 65535"),
        ("--flask-env=staging", "FLASK_ENV must be one of"),
        ("--set=LOG_JSON=maybe", "true or false"),
        ("--set=COMPRESSION_LEVEL=12", "COMPRESSION_LEVEL must be a whole number from 0"),
        ("--set=LOG_LEVEL=LOUD", "LOG_LEVEL must be one of DEBUG"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(
    tmp_path: Path, flag: str, message: str
) -> None:
    target = tmp_path / "config.json"

    result = run_script(tmp_path, "--non-interactive", "--output", str(target), flag)

    assert result.returncode == 2
    assert message in result.stderr
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_refused_run_leaves_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    original = json.dumps({"SECRET_KEY": STRONG_KEY, "PORT": 9003})
    target.write_text(original, encoding="utf-8")

    result = run_script(tmp_path, "--non-interactive", "--output", str(target), "--set=X=1")

    assert result.returncode == 2
    assert target.read_text(encoding="utf-8") == original


def test_unreadable_existing_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("{not json", encoding="utf-8")

    result = run_script(tmp_path, "--non-interactive", "--output", str(target))

    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert target.read_text(encoding="utf-8") == "{not json"


def test_interactive_answers_come_from_stdin(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    answers = {
        "DATABASE_URL": "sqlite:////srv/pms/parts.db",
        "PORT": "8123",
        "CORS_ORIGINS": "https://pms.example.org",
        "BASE_PATH": "/pms",
    }
    # Blank lines keep defaults; input ends early, so the remaining prompts keep theirs too.
    stdin = "\n".join(answers.get(key, "") for key in PROMPT_ORDER[:6]) + "\n"

    result = run_script(tmp_path, "--output", str(target), stdin=stdin)

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert values["DATABASE_URL"] == "sqlite:////srv/pms/parts.db"
    assert values["PORT"] == 8123
    assert values["CORS_ORIGINS"] == ["https://pms.example.org"]
    assert values["BASE_PATH"] == "/pms"
    assert values["UPLOAD_FOLDER"] == "uploads"
    assert len(values["SECRET_KEY"]) >= 48
    assert_not_printed(result, values["SECRET_KEY"])


def test_interactive_invalid_answer_is_asked_again(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    stdin = "short\n\n\n\nabc\n8124\n"  # weak key, then Enter; bad port, then a good one

    result = run_script(tmp_path, "--output", str(target), stdin=stdin)

    assert result.returncode == 0, result.stderr
    assert "shorter than 32" in result.stderr
    assert "PORT must be a number" in result.stderr
    values = read_json(target)
    assert values["PORT"] == 8124
    assert len(values["SECRET_KEY"]) >= 48


def test_interactive_typed_key_is_stored_but_never_echoed(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text(json.dumps({"BASE_PATH": "/old"}), encoding="utf-8")
    stdin = f"{STRONG_KEY}\n\n\n\n\n-\n"  # "-" clears BASE_PATH

    result = run_script(tmp_path, "--output", str(target), stdin=stdin)

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert values["SECRET_KEY"] == STRONG_KEY
    assert values["BASE_PATH"] == ""
    assert "generated" not in result.stdout
    assert_not_printed(result, STRONG_KEY)


def test_empty_stdin_takes_every_default(tmp_path: Path) -> None:
    target = tmp_path / "config.json"

    result = run_script(tmp_path, "--output", str(target), stdin="")

    assert result.returncode == 0, result.stderr
    values = read_json(target)
    assert values["PORT"] == 8000
    assert values["RATELIMIT_STORAGE_URI"] == "memory://"
    assert "generated" in result.stdout


def _standalone_project(folder: Path) -> Path:
    (folder / "utils").mkdir(parents=True)
    for name in STANDALONE_FILES:
        shutil.copy(PROJECT_ROOT / name, folder / name)
    return folder / "create_config.py"


def test_default_output_is_next_to_config_py_not_the_working_folder(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    script = _standalone_project(project)
    elsewhere.mkdir()

    result = run_script(elsewhere, "--non-interactive", script=script)

    assert result.returncode == 0, result.stderr
    assert (project / "config.json").is_file()
    assert os.listdir(elsewhere) == []


def test_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    # -S: no site-packages, as the system Python before the venv is made (no Flask, no
    # SQLAlchemy); only the files create_config.py needs are there.
    script = _standalone_project(tmp_path / "project")
    python = (sys.executable, "-S")

    written = run_script(
        tmp_path, "--non-interactive", "--port", "8123", script=script, python=python
    )
    listed = run_script(tmp_path, "--print-writable-paths", script=script, python=python)

    assert written.returncode == 0, written.stderr
    assert read_json(tmp_path / "project" / "config.json")["PORT"] == 8123
    assert listed.returncode == 0, listed.stderr
    assert str((tmp_path / "project" / "data").resolve()) in listed.stdout.splitlines()


def test_config_file_variable_chooses_the_default_output(tmp_path: Path) -> None:
    target = tmp_path / "data" / "config.json"
    target.parent.mkdir()

    result = run_script(tmp_path, "--non-interactive", CONFIG_FILE=str(target))

    assert result.returncode == 0, result.stderr
    assert read_json(target)["FLASK_ENV"] == "production"


def test_print_writable_paths_lists_upload_database_and_data_folders(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    settings = {
        "UPLOAD_FOLDER": str(tmp_path / "files"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db/parts.db",
        "LOG_FILE": str(tmp_path / "logs" / "pms.log"),
    }
    target.write_text(json.dumps(settings), encoding="utf-8")

    result = run_script(tmp_path, "--print-writable-paths", "--output", str(target))

    assert result.returncode == 0, result.stderr
    printed = result.stdout.split()
    expected = [tmp_path / "files", tmp_path / "db", tmp_path / "logs", PROJECT_ROOT / "data"]
    assert set(map(str, expected)) <= set(printed)
    assert read_json(target) == settings  # printing changes nothing
