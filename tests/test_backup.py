"""`flask backup` / `flask restore`: one archive of database and files, and a full round trip."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tarfile
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.backup_helpers import (
    PDF,
    cli,
    headers,
    make_part,
    member_names,
    only_archive,
    populate,
    reopen,
    served,
    sha,
    tree,
)
from tests.conftest import close_app
from tests.helpers import upload_ok
from utils.backup import STAMP_FORMAT


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        return json.load(tar.extractfile("manifest.json"))


def durable_tree(uploads: Path) -> dict[str, str]:
    return {k: v for k, v in tree(uploads).items() if k.startswith(("parts/", "models/"))}


def test_backup_wipe_restore_gives_back_every_part_and_file(make_app, tmp_path):
    app = make_app()
    ids = populate(app)
    before = served(app, ids)
    assert before["model"][0] == 200 and before["model"][2] == b"glTF"
    assert before["pdf"][1] == sha(PDF) and before["view_3"][0] == 200
    uploads = Path(app.config["UPLOAD_FOLDER"])
    files_before = durable_tree(uploads)
    # STEP; the GLB with its quantised and meshopt variants; two previews; PDF.
    assert len(files_before) == 7, sorted(files_before)
    assert sum(name.startswith("models/") for name in files_before) == 3
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    archive = only_archive(tmp_path / "bk")

    wiped = app.test_client().post(
        "/api/parts/wipe", json={"password": app.config["SECRET_KEY"]}, headers=headers(app)
    )
    assert wiped.status_code == 200
    assert app.test_client().get("/api/parts/", headers=headers(app)).get_json()["total"] == 0
    assert not durable_tree(uploads)  # every part's file and model gone (folders may stay)
    close_app(app)  # the server is stopped for a restore

    restorer = reopen(app)
    restored = cli(restorer, "restore", str(archive), "--yes")
    assert restored.exit_code == 0, restored.output
    close_app(restorer)
    server = reopen(app)
    assert served(server, ids) == before
    assert durable_tree(uploads) == files_before
    assert cli(server, "files").output.strip() == "files and parts agree"
    assert not [p for p in uploads.iterdir() if p.name.startswith((".restore", ".pre-restore"))]


def test_archive_holds_manifest_database_and_durable_files_only(make_app, tmp_path):
    app = make_app()
    part = make_part(app, "Plate")
    upload_ok(app.test_client(), headers(app), part, PDF, "plate.pdf")
    uploads = Path(app.config["UPLOAD_FOLDER"])
    # Work in flight and host state must not travel: temp uploads, conversions, locks.
    for leftover in ("tmp/123/x.part", "models/.k.converting/out.glb", "locks/a.lock"):
        (uploads / leftover).parent.mkdir(parents=True, exist_ok=True)
        (uploads / leftover).write_bytes(b"in flight")
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    archive = only_archive(tmp_path / "bk")
    (stored,) = (uploads / "parts").rglob("*.pdf")
    assert member_names(archive) == {
        "manifest.json",
        "database.sqlite3",
        f"uploads/{stored.relative_to(uploads).as_posix()}",
    }
    manifest = manifest_of(archive)
    assert manifest["database_kind"] == "sqlite" and manifest["database_included"] is True
    assert manifest["missing_files"] == []


def test_archive_is_private_whatever_the_umask(make_app, tmp_path):
    app = make_app()
    previous = os.umask(0)
    try:
        result = cli(app, "backup", "--dest", str(tmp_path / "new" / "bk"))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    archive = only_archive(tmp_path / "new" / "bk")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    assert not [p.name for p in archive.parent.iterdir() if p.name.startswith(".")]


def test_retention_removes_only_our_old_archives(make_app, tmp_path):
    app = make_app()
    folder = tmp_path / "bk"
    folder.mkdir()
    now = datetime.now(UTC)

    def named(age_days: int) -> Path:
        stamp = (now - timedelta(days=age_days)).strftime(STAMP_FORMAT)
        path = folder / f"aerie-backup-{stamp}.tar.gz"
        path.write_bytes(b"old")
        return path

    old, recent = named(30), named(2)
    others = [
        folder / "parts-x.sqlite3.bak",
        folder / "notes.tar.gz",
        folder / "aerie-backup-x.tar.gz",
    ]
    for path in others:
        path.write_bytes(b"not ours to delete")
        os.utime(path, (0, 0))
    result = cli(app, "backup", "--dest", str(folder), "--keep-days", "7")
    assert result.exit_code == 0, result.output
    assert "removed 1 backups older than 7 days" in result.output
    assert not old.exists() and recent.exists() and all(p.exists() for p in others)
    assert len(list(folder.glob("aerie-backup-*Z.tar.gz"))) == 2


def test_keep_days_zero_still_keeps_the_archive_just_written(make_app, tmp_path):
    app = make_app()
    for _ in range(2):
        assert cli(app, "backup", "--dest", str(tmp_path), "--keep-days", "0").exit_code == 0
    assert len(list(tmp_path.glob("aerie-backup-*.tar.gz"))) == 1


def test_files_only_archives_the_uploads_and_restores_them_alone(make_app, tmp_path):
    app = make_app()
    part = make_part(app, "Plate")
    upload_ok(app.test_client(), headers(app), part, PDF, "plate.pdf")
    uploads = Path(app.config["UPLOAD_FOLDER"])
    saved = tree(uploads / "parts")
    result = cli(app, "backup", "--files-only", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    archive = only_archive(tmp_path / "bk")
    assert "database.sqlite3" not in member_names(archive)
    assert manifest_of(archive)["database_included"] is False
    make_part(app, "Added after the backup")  # the database is not the archive's business
    for path in (uploads / "parts").rglob("*.pdf"):
        path.unlink()
    restored = cli(app, "restore", str(archive), "--yes")
    assert restored.exit_code == 0, restored.output
    assert "holds no database" in restored.output
    assert tree(uploads / "parts") == saved
    names = [
        p["name"]
        for p in app.test_client().get("/api/parts/", headers=headers(app)).get_json()["parts"]
    ]
    assert "Added after the backup" in names


def test_backup_of_server_database_points_to_the_dump_tools(make_app):
    app = make_app()
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://u@127.0.0.1/db"
    result = cli(app, "backup", "--dest", "/nonexistent/never-created")
    assert result.exit_code != 0
    assert "pg_dump" in result.output and "--files-only" in result.output
    assert not Path("/nonexistent/never-created").exists()


def test_backup_inside_the_upload_folder_is_refused(make_app):
    app = make_app()
    inside = Path(app.config["UPLOAD_FOLDER"]) / "backups"
    result = cli(app, "backup", "--dest", str(inside))
    assert result.exit_code != 0 and "outside UPLOAD_FOLDER" in result.output
    assert not inside.exists()


def test_file_already_missing_is_reported_not_fatal(make_app, tmp_path):
    app = make_app()
    part = make_part(app, "Plate")
    upload_ok(app.test_client(), headers(app), part, PDF, "plate.pdf")
    (lost,) = Path(app.config["UPLOAD_FOLDER"]).rglob("*.pdf")
    lost.unlink()
    result = cli(app, "backup", "--dest", str(tmp_path))
    assert result.exit_code == 0, result.output
    relative = lost.relative_to(app.config["UPLOAD_FOLDER"]).as_posix()
    assert f"warning: {relative} was already missing" in result.output
    assert manifest_of(only_archive(tmp_path))["missing_files"] == [relative]


def test_old_sqlite_bak_files_still_restore_the_database(make_app, tmp_path):
    app = make_app()
    make_part(app, "Kept")
    live = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    legacy = tmp_path / "parts-20240101T000000000000Z.sqlite3.bak"
    with closing(sqlite3.connect(live)) as source, closing(sqlite3.connect(legacy)) as copy:
        source.backup(copy)
    make_part(app, "After the backup")
    close_app(app)
    restorer = reopen(app)
    result = cli(restorer, "restore", str(legacy), "--yes")
    assert result.exit_code == 0, result.output
    assert "uploaded files were left as they are" in result.output
    close_app(restorer)
    server = reopen(app)
    listing = server.test_client().get("/api/parts/", headers=headers(server)).get_json()
    assert [p["name"] for p in listing["parts"]] == ["Kept"]
    assert sorted(p.name for p in live.parent.iterdir() if "restore" in p.name) == []


@pytest.mark.parametrize("answer", ["n\n", ""])
def test_restore_without_yes_asks_and_stops_on_no(make_app, tmp_path, answer):
    app = make_app()
    assert cli(app, "backup", "--dest", str(tmp_path)).exit_code == 0
    make_part(app, "Stays")
    result = app.test_cli_runner().invoke(
        args=["restore", str(only_archive(tmp_path))], input=answer
    )
    assert result.exit_code == 1 and "Aborted" in result.output
    listing = app.test_client().get("/api/parts/", headers=headers(app)).get_json()
    assert [p["name"] for p in listing["parts"]] == ["Stays"]


def test_backup_to_a_folder_it_cannot_create_fails_in_one_line(make_app, tmp_path):
    app = make_app()
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    result = cli(app, "backup", "--dest", str(blocker / "backups"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: backup failed:") and "Traceback" not in result.output
