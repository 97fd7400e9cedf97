"""The README's commands as real processes: `.venv/bin/flask --app run_prod:app backup|restore`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from app import create_app
from app.database import prepare_schema
from tests.backup_helpers import PDF, headers, only_archive, sha
from tests.conftest import close_app
from tests.helpers import get_closed, upload_ok

PROJECT = Path(__file__).resolve().parents[1]
FLASK = Path(sys.executable).parent / "flask"
SECRET_KEY = "backup-process-" + "k" * 40


def production_env(tmp_path: Path) -> dict[str, str]:
    """Only what the README's service sets: nothing from this machine's config or env."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(
        FLASK_ENV="production",
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=f"sqlite:///{tmp_path / 'data' / 'parts.db'}",
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
        CONFIG_FILE=os.devnull,  # no settings file, not this machine's config.json
    )
    return env


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(FLASK), "--app", "run_prod:app", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert SECRET_KEY not in result.stdout + result.stderr
    return result


def in_process_app(tmp_path: Path):
    """The same database and folder, through the API (to upload and to look)."""
    app = create_app(
        "testing",
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'parts.db'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "FRONTEND_DIST": str(tmp_path / "dist"),
        },
    )
    prepare_schema(app)
    return app


def what_is_served(app, part_id: int) -> tuple:
    client, keys = app.test_client(), headers(app)
    names = sorted(p["name"] for p in client.get("/api/parts/", headers=keys).get_json()["parts"])
    download = get_closed(client, f"/api/parts/{part_id}/download", keys)
    return names, download.status_code, sha(download.data)


def test_documented_backup_and_restore_commands_bring_a_lost_server_back(tmp_path):
    env = production_env(tmp_path)
    (tmp_path / "data").mkdir()
    seeded = flask(env, "seed")  # migrates the empty database like a first start
    assert seeded.returncode == 0, seeded.stderr
    app = in_process_app(tmp_path)
    part_id = (
        app.test_client().get("/api/parts/", headers=headers(app)).get_json()["parts"][0]["id"]
    )
    upload_ok(app.test_client(), headers(app), part_id, PDF, "drawing.pdf")
    before = what_is_served(app, part_id)
    close_app(app)
    assert before[1:] == (200, sha(PDF)) and len(before[0]) > 1

    backed_up = flask(env, "backup", "--dest", str(tmp_path / "backups"), "--keep-days", "7")
    assert backed_up.returncode == 0, backed_up.stderr
    archive = only_archive(tmp_path / "backups")
    assert f"backup written to {archive}" in backed_up.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    # The machine is lost: no database, no uploads. A fresh install restores both.
    shutil.rmtree(tmp_path / "data")
    shutil.rmtree(tmp_path / "uploads")
    restored = flask(env, "restore", str(archive), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "restored the database" in restored.stdout
    audit = flask(env, "files")
    assert (audit.returncode, audit.stdout.strip()) == (0, "files and parts agree")
    app = in_process_app(tmp_path)
    try:
        assert what_is_served(app, part_id) == before
    finally:
        close_app(app)


def test_documented_backup_refuses_a_server_database_without_files_only(tmp_path):
    env = production_env(tmp_path) | {"DATABASE_URL": "postgresql://aerie@127.0.0.1:1/parts"}
    result = flask(env, "backup", "--dest", str(tmp_path / "backups"))
    assert result.returncode != 0
    assert "pg_dump" in result.stderr and "--files-only" in result.stderr
    assert not (tmp_path / "backups").exists()
