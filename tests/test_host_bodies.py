"""The whole list made once per host (utils.host_bodies): two apps on one database, as two
gunicorn workers are, share the body and its gzip through HOST_BODIES_FOLDER."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from tests.conftest import build_app, close_app
from utils.host_bodies import (
    RUN_FOLDER_PREFIX,
    HostBodies,
    make_run_folder,
    remove_run_folder,
    run_folder_of_this_process,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="flock: gunicorn's platforms only")


@pytest.fixture
def workers(test_database, tmp_path: Path):
    """Two apps sharing one database and one folder: the first resets the database, the
    second only connects."""
    folder = tmp_path / "bodies"
    folder.mkdir()
    # Every list gzipped, however short.
    shared = {"HOST_BODIES_FOLDER": str(folder), "COMPRESSION_MIN_BYTES": 1}
    first = build_app(test_database, tmp_path, **shared)
    second = create_app("testing", {**_settings_of(first), **shared})
    yield first, second, folder
    close_app(second)
    close_app(first)


def _settings_of(app: Any) -> dict[str, Any]:
    names = ("DATABASE_URL", "UPLOAD_FOLDER", "FRONTEND_DIST", "SECRET_KEY")
    return {name: app.config[name] for name in names}


def _host(app: Any) -> HostBodies:
    return app.extensions["parts_cache"]._host


def _get(app: Any, **headers: str) -> Any:
    headers = {"X-API-Key": app.config["SECRET_KEY"], **headers}
    return app.test_client().get("/api/parts/", headers=headers)


def _create(app: Any, name: str) -> None:
    body = {"name": name, "material": "6061 Aluminum", "subsystem": "Drive", "type": "cnc"}
    response = app.test_client().post(
        "/api/parts/", json=body, headers={"X-API-Key": app.config["SECRET_KEY"]}
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_the_second_process_reads_the_list_the_first_made(workers):
    first, second, folder = workers
    _create(first, "Bracket")
    made = _get(first)
    read = _get(second)
    assert made.status_code == read.status_code == 200
    assert read.data == made.data and read.headers["ETag"] == made.headers["ETag"]
    assert b"Bracket" in read.data
    assert (_host(first).made, _host(second).made) == (1, 0)
    [kept] = folder.glob("list-*.json")
    assert kept.read_bytes().endswith(made.data)


def test_the_gzip_is_made_once_for_both(workers):
    first, second, _folder = workers
    _create(first, "Bracket")
    for app in (first, second):
        packed = _get(app, **{"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.data) == _get(app).data
    # The body and one gzip level, made by the first; the second read both.
    assert (_host(first).made, _host(second).made) == (2, 0)


def test_a_write_makes_a_new_file_and_removes_the_old(workers):
    first, second, folder = workers
    _create(first, "Bracket")
    before = _get(first)
    _create(second, "Gusset")
    after = _get(first)
    assert b"Gusset" in after.data and after.headers["ETag"] != before.headers["ETag"]
    assert _get(second).data == after.data
    assert len(list(folder.glob("list-*.json"))) == 1


def test_a_page_is_not_shared(workers):
    first, _second, folder = workers
    _create(first, "Bracket")
    assert (
        first.test_client()
        .get("/api/parts/?limit=5", headers={"X-API-Key": first.config["SECRET_KEY"]})
        .status_code
        == 200
    )
    assert list(folder.glob("list-*")) == []


def test_a_removed_folder_serves_from_the_process(workers):
    first, second, folder = workers
    _create(first, "Bracket")
    for entry in folder.iterdir():
        entry.unlink()
    folder.rmdir()
    assert _get(first).status_code == 200 and b"Bracket" in _get(second).data


def test_processes_racing_for_one_revision_make_it_once(tmp_path):
    folder = tmp_path / "bodies"
    folder.mkdir()
    hosts = [HostBodies(folder) for _ in range(4)]
    made: list[int] = []
    start = threading.Barrier(len(hosts))
    answers: list[tuple[bytes, str]] = []

    def make() -> tuple[bytes, str]:
        made.append(1)
        return b'{"parts":[]}\n', "etag-1"

    def ask(host: HostBodies) -> None:
        start.wait()
        answers.append(host.whole_list(7, make))

    threads = [threading.Thread(target=ask, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert answers == [(b'{"parts":[]}\n', "etag-1")] * len(hosts)
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "list-7.json"]


def test_a_run_folder_sweeps_those_of_masters_no_longer_running(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    killed = tmp_path / f"{RUN_FOLDER_PREFIX}{gone}-abc"
    alive = tmp_path / f"{RUN_FOLDER_PREFIX}{os.getppid()}-def"
    unrelated = tmp_path / f"{RUN_FOLDER_PREFIX}not-a-pid"
    for folder in (killed, alive, unrelated):
        folder.mkdir()
        (folder / "list-3.json").write_bytes(b"etag\n{}")
    made = make_run_folder()
    assert made is not None and made.name.startswith(f"{RUN_FOLDER_PREFIX}{os.getpid()}-")
    assert run_folder_of_this_process(made) and not run_folder_of_this_process(alive)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive.name, unrelated.name, made.name]
    )
    remove_run_folder(made)
    assert not made.exists()
