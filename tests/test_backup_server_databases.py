"""PostgreSQL and MariaDB: the README's dump tool, then `flask backup --files-only`, restored."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from app.database import prepare_schema
from tests.backup_helpers import cli, headers, member_names, only_archive, populate, served
from tests.conftest import DATABASES, close_app

SERVERS = [database for database in DATABASES if database.url]
ON_SERVERS = pytest.mark.parametrize(
    "test_database", SERVERS, indirect=True, ids=[database.name for database in SERVERS]
)


def dump_commands(url: str, dump: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """The README's backup and restore commands for this server, and the password env."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return (
            ["pg_dump", "-Fc", "-f", str(dump), plain],
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", plain, str(dump)],
            {},
        )
    where = ["-h", parsed.host or "127.0.0.1", "-P", str(parsed.port or 3306)]
    where += ["-u", parsed.username or "root"]
    dump_args = ["mariadb-dump", *where, "--single-transaction", f"--result-file={dump}"]
    restore_args = ["mariadb", *where, parsed.database or "", "-e", f"source {dump}"]
    return dump_args + [parsed.database or ""], restore_args, {"MYSQL_PWD": parsed.password or ""}


def run_tool(args: list[str], extra_env: dict[str, str]) -> None:
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} is not installed")
    env = {**os.environ, **{k: v for k, v in extra_env.items() if v}}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def restarted(app):
    """The same server database and folder, without the fixture's table reset."""
    settings = {k: app.config[k] for k in ("DATABASE_URL", "UPLOAD_FOLDER", "FRONTEND_DIST")}
    again = create_app("testing", settings)
    prepare_schema(again)
    return again


@ON_SERVERS
def test_dump_then_files_only_backup_restores_every_part_and_file(app, tmp_path):
    ids = populate(app)
    before = served(app, ids)
    dump = tmp_path / "bk" / "parts.dump"
    dump.parent.mkdir(mode=0o700)
    backup_args, restore_args, env = dump_commands(app.config["DATABASE_URL"], dump)
    run_tool(backup_args, env)  # the database just before the files: see README
    result = cli(app, "backup", "--files-only", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    assert "database.sqlite3" not in member_names(only_archive(tmp_path / "bk"))
    wiped = app.test_client().post(
        "/api/parts/wipe", json={"password": app.config["SECRET_KEY"]}, headers=headers(app)
    )
    assert wiped.status_code == 200
    close_app(app)  # the server is stopped for a restore

    run_tool(restore_args, env)
    restorer = restarted(app)
    try:
        restored = cli(restorer, "restore", str(only_archive(tmp_path / "bk")), "--yes")
        assert restored.exit_code == 0, restored.output
        assert served(restorer, ids) == before
        assert cli(restorer, "files").output.strip() == "files and parts agree"
    finally:
        close_app(restorer)


@ON_SERVERS
def test_full_backup_on_a_server_database_points_to_the_dump_tools(app, tmp_path):
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code != 0 and "--files-only" in result.output
    assert not (tmp_path / "bk").exists()


def test_restore_of_a_sqlite_archive_onto_a_server_database_is_refused(make_app, tmp_path):
    app = make_app()
    assert cli(app, "backup", "--dest", str(tmp_path / "bk")).exit_code == 0
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://aerie@127.0.0.1:1/parts"
    result = cli(app, "restore", str(only_archive(tmp_path / "bk")), "--yes")
    assert result.exit_code != 0
    assert "made on sqlite; this server uses postgresql" in result.output
