"""`flask backup` and `flask restore` for SQLite: online copy, retention, tested restore."""

import os
import time

from utils.backup import BACKUP_SUFFIX


def _create(client, headers, name):
    body = {"name": name, "material": "Al", "subsystem": "Drive"}
    assert client.post("/api/parts/", json=body, headers=headers).status_code == 201


def _names(client, headers):
    return sorted(p["name"] for p in client.get("/api/parts/", headers=headers).get_json()["parts"])


def test_backup_then_restore_brings_back_the_saved_rows(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    _create(client, headers, "Kept 1")
    _create(client, headers, "Kept 2")
    result = app.test_cli_runner().invoke(args=["backup", "--dest", str(tmp_path / "bk")])
    assert result.exit_code == 0, result.output
    backups = list((tmp_path / "bk").glob(f"*{BACKUP_SUFFIX}"))
    assert len(backups) == 1
    _create(client, headers, "After backup")
    assert _names(client, headers) == ["After backup", "Kept 1", "Kept 2"]

    restored = app.test_cli_runner().invoke(args=["restore", str(backups[0]), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert _names(client, headers) == ["Kept 1", "Kept 2"]


def test_backup_retention_removes_old_files_but_keeps_newest(make_app, tmp_path):
    app = make_app()
    folder = tmp_path / "bk"
    folder.mkdir()
    old = folder / f"parts-old{BACKUP_SUFFIX}"
    old.write_bytes(b"old")
    ancient = time.time() - 30 * 86400
    os.utime(old, (ancient, ancient))
    result = app.test_cli_runner().invoke(
        args=["backup", "--dest", str(folder), "--keep-days", "7"]
    )
    assert result.exit_code == 0, result.output
    remaining = list(folder.glob(f"*{BACKUP_SUFFIX}"))
    assert old not in remaining and len(remaining) == 1


def test_backup_of_server_database_explains_the_tool_to_use(make_app):
    app = make_app()
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://u@127.0.0.1/db"
    result = app.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code != 0
    assert "pg_dump" in result.output
