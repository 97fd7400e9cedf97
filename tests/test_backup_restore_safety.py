"""`flask restore` refuses hostile or foreign archives and leaves everything as it was."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

import utils.backup_restore as restore_module
from tests.backup_helpers import PDF, cli, headers, make_part, only_archive, tree
from tests.helpers import upload_ok

ABSOLUTE = "/aerie-backup-test-evil.txt"
MANIFEST = {
    "format": "aerie-backup",
    "version": 1,
    "database_kind": "sqlite",
    "database_included": False,
    "missing_files": [],
}


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def hostile_archive(path: Path, evil: tuple, manifest: dict = MANIFEST) -> Path:
    """A real-looking archive (manifest, one good upload) with one bad entry at the end."""
    good = json.dumps(manifest).encode()
    with tarfile.open(path, "w:gz") as tar:
        for info, data in (
            entry("manifest.json", data=good),
            entry("uploads/parts/u1/a.pdf"),
            evil,
        ):
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def state(app) -> tuple:
    """What must not change: the parts the API serves and every file of the data folder."""
    listing = app.test_client().get("/api/parts/", headers=headers(app)).get_json()
    folder = Path(app.config["UPLOAD_FOLDER"]).parent
    files = {k: v for k, v in tree(folder).items() if not k.endswith(("-wal", "-shm", ".db"))}
    return listing, files


@pytest.fixture
def live(make_app):
    """An app with one part and its PDF: the data a bad restore must not touch."""
    app = make_app()
    part = make_part(app, "Precious")
    upload_ok(app.test_client(), headers(app), part, PDF, "precious.pdf")
    return app


@pytest.mark.parametrize(
    "evil",
    [
        entry("../evil.txt"),
        entry("uploads/parts/../../../evil.txt"),
        entry(ABSOLUTE),
        entry("uploads/parts/u1/link", tarfile.SYMTYPE, link="/etc/passwd"),
        entry("uploads/parts/u1/up", tarfile.SYMTYPE, link="../../../../evil.txt"),
        entry("uploads/parts/u1/hard", tarfile.LNKTYPE, link="manifest.json"),
        entry("uploads/parts/u1/tty", tarfile.CHRTYPE),
        entry("uploads/parts/u1/disk", tarfile.BLKTYPE),
        entry("uploads/parts/u1/pipe", tarfile.FIFOTYPE),
        entry("uploads/tmp/123/x.part"),
        entry("config.json"),
    ],
    ids=lambda e: e[0].name,
)
def test_hostile_archive_is_refused_and_changes_nothing(live, tmp_path, evil):
    before = state(live)
    archive = hostile_archive(tmp_path / "hostile.tar.gz", evil)
    result = cli(live, "restore", str(archive), "--yes")
    assert result.exit_code != 0
    assert "refusing the archive" in result.output and evil[0].name in result.output
    assert state(live) == before
    assert not list(tmp_path.rglob("evil.txt")) and not Path(ABSOLUTE).exists()
    leftovers = [p.name for p in Path(live.config["UPLOAD_FOLDER"]).iterdir() if p.name[0] == "."]
    assert leftovers == []


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            {**MANIFEST, "database_kind": "postgresql"},
            "made on postgresql; this server uses sqlite",
        ),
        ({**MANIFEST, "version": 99}, "newer version"),
        ({"hello": "world"}, "not an Aerie backup"),
        ({**MANIFEST, "database_included": True}, "lacks database.sqlite3"),
    ],
)
def test_foreign_manifest_is_refused_and_changes_nothing(live, tmp_path, manifest, message):
    before = state(live)
    archive = hostile_archive(tmp_path / "other.tar.gz", entry("uploads/models/k.glb"), manifest)
    result = cli(live, "restore", str(archive), "--yes")
    assert result.exit_code != 0 and message in result.output
    assert state(live) == before


@pytest.mark.parametrize("damage", ["truncate", "not gzip", "no manifest"])
def test_unreadable_archive_is_refused_and_changes_nothing(live, tmp_path, damage):
    assert cli(live, "backup", "--dest", str(tmp_path / "bk")).exit_code == 0
    archive = only_archive(tmp_path / "bk")
    if damage == "truncate":
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    elif damage == "not gzip":
        archive.write_bytes(b"just some text that is not an archive at all")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            info, data = entry("uploads/parts/u/a.pdf")
            tar.addfile(info, io.BytesIO(data))
    make_part(live, "After the backup")
    before = state(live)
    result = cli(live, "restore", str(archive), "--yes")
    assert result.exit_code != 0
    assert "cannot read" in result.output or "not an Aerie backup" in result.output
    assert state(live) == before


def test_restore_failing_halfway_puts_everything_back(live, tmp_path, monkeypatch):
    assert cli(live, "backup", "--dest", str(tmp_path / "bk")).exit_code == 0
    make_part(live, "After the backup")
    before = state(live)
    real_rename = os.rename

    def failing_rename(source, target):
        if Path(source).name == "models" or Path(target).name == "models":
            raise OSError(28, "No space left on device")
        real_rename(source, target)

    Path(live.config["UPLOAD_FOLDER"], "models").mkdir()
    monkeypatch.setattr(restore_module.os, "rename", failing_rename)
    result = cli(live, "restore", str(only_archive(tmp_path / "bk")), "--yes")
    assert result.exit_code != 0
    assert state(live) == before
    data = Path(live.config["UPLOAD_FOLDER"]).parent
    assert not [p for p in data.rglob("*") if "restore" in p.name]
