"""A backup taken while parts change: database first, files second, and a clean archive."""

from __future__ import annotations

import sqlite3
import tarfile
import threading
from contextlib import closing
from pathlib import Path

import utils.backup as backup_module
import utils.backup_archive as archive_module
from tests.backup_helpers import PDF, cli, headers, make_part, member_names, only_archive, reopen
from tests.conftest import close_app
from tests.helpers import upload_ok


def part_with_pdf(app, name: str) -> int:
    part = make_part(app, name)
    upload_ok(app.test_client(), headers(app), part, PDF, f"{name}.pdf")
    return part


def delete(app, part_id: int) -> None:
    response = app.test_client().delete(f"/api/parts/{part_id}", headers=headers(app))
    assert response.status_code == 200


def archived_rows(archive: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(name, uuid, stored file) of every part in the archive's database copy."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extract("database.sqlite3", tmp_path / "x", filter="data")
    query = "SELECT name, uuid, file_sha256 || '.' || file_ext FROM parts ORDER BY name"
    with closing(sqlite3.connect(tmp_path / "x" / "database.sqlite3")) as connection:
        return connection.execute(query).fetchall()


def uploads_of(archive: Path) -> set[str]:
    return {n.split("/", 3)[2] for n in member_names(archive) if n.startswith("uploads/parts/")}


def test_part_added_during_the_file_copy_is_an_orphan_not_a_dangling_row(
    make_app, tmp_path, monkeypatch
):
    app = make_app()
    part_with_pdf(app, "Before")
    copy_files, added = archive_module.durable_files, []

    def add_then_copy(root):
        added.append(part_with_pdf(app, "During"))
        yield from copy_files(root)

    monkeypatch.setattr(archive_module, "durable_files", add_then_copy)
    assert cli(app, "backup", "--dest", str(tmp_path / "bk")).exit_code == 0
    archive = only_archive(tmp_path / "bk")
    rows = archived_rows(archive, tmp_path)
    # The row was not in the database copy, its file was in the file copy: database first.
    assert [name for name, _uuid, _file in rows] == ["Before"]
    during = app.test_client().get(f"/api/parts/{added[0]}", headers=headers(app)).get_json()
    assert uploads_of(archive) == {rows[0][1], during["uuid"]}
    close_app(app)
    restorer = reopen(app)
    assert cli(restorer, "restore", str(archive), "--yes").exit_code == 0
    assert f"orphan part folder {during['uuid']}" in cli(restorer, "files").output
    assert cli(restorer, "files", "--clean").exit_code == 0
    assert cli(restorer, "files").output.strip() == "files and parts agree"


def test_part_deleted_during_the_file_copy_makes_the_backup_start_over(
    make_app, tmp_path, monkeypatch
):
    app = make_app()
    part_with_pdf(app, "Kept")
    doomed = part_with_pdf(app, "Deleted")
    copy_files, calls = archive_module.durable_files, []

    def delete_then_copy(root):
        calls.append(root)
        if len(calls) == 1:
            delete(app, doomed)
        yield from copy_files(root)

    monkeypatch.setattr(archive_module, "durable_files", delete_then_copy)
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    assert len(calls) == 2
    archive = only_archive(tmp_path / "bk")
    rows = archived_rows(archive, tmp_path)
    assert [name for name, _uuid, _file in rows] == ["Kept"]
    assert uploads_of(archive) == {rows[0][1]}


def test_part_deleted_right_after_the_database_copy_is_not_reported_missing(
    make_app, tmp_path, monkeypatch
):
    app = make_app()
    part_with_pdf(app, "Kept")
    doomed = part_with_pdf(app, "Deleted")
    copy_database, calls = backup_module.copy_sqlite, []

    def copy_then_delete(source, target):
        copied = copy_database(source, target)
        calls.append(target)
        if len(calls) == 1:
            delete(app, doomed)
        return copied

    monkeypatch.setattr(backup_module, "copy_sqlite", copy_then_delete)
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and len(calls) == 2
    rows = archived_rows(only_archive(tmp_path / "bk"), tmp_path)
    assert [name for name, _uuid, _file in rows] == ["Kept"]


def test_backup_gives_up_when_files_change_in_every_attempt(make_app, tmp_path, monkeypatch):
    app = make_app()
    doomed = [part_with_pdf(app, f"Part {i}") for i in range(backup_module.ATTEMPTS)]
    copy_files = archive_module.durable_files

    def delete_then_copy(root):
        delete(app, doomed.pop())
        yield from copy_files(root)

    monkeypatch.setattr(archive_module, "durable_files", delete_then_copy)
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code != 0
    assert "files kept changing in every attempt" in result.output
    assert list((tmp_path / "bk").iterdir()) == []


def test_backups_taken_while_uploads_stream_in_are_each_consistent(make_app, tmp_path):
    app = make_app()
    stop, uploaded, errors = threading.Event(), threading.Event(), []

    def keep_uploading() -> None:
        count = 0
        while not stop.is_set() and count < 200:
            try:
                part_with_pdf(app, f"Streamed {count}")
                uploaded.set()
            except AssertionError as exc:  # reported below: a thread cannot fail the test
                errors.append(exc)
            count += 1

    writer = threading.Thread(target=keep_uploading)
    writer.start()
    uploaded.wait(timeout=30)
    try:
        for run in range(3):
            result = cli(app, "backup", "--dest", str(tmp_path / f"bk{run}"))
            assert result.exit_code == 0, result.output
    finally:
        stop.set()
        writer.join()
    assert errors == []
    for run in range(3):
        archive = only_archive(tmp_path / f"bk{run}")
        rows = archived_rows(archive, tmp_path / f"x{run}")
        stored = {n.split("/", 1)[1] for n in member_names(archive) if n.startswith("uploads/")}
        referenced = {f"parts/{uuid}/{file}" for _name, uuid, file in rows if file}
        assert referenced and referenced <= stored
