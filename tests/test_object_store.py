"""FILE_STORE_URL=s3://…: the object store on a real local S3 endpoint (moto's server mode)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from app import create_app
from app.startup import check_services
from config import ConfigError
from tests.backup_helpers import cli, headers, make_part, only_archive
from tests.conftest import FIXTURES, build_app
from tests.databases import TestDatabase
from tests.helpers import get_closed, post_upload, upload_ok
from utils.s3_client import new_client

BUCKET = "aerie-test"
PDF = b"%PDF-1.4\n" + b"drawing " * 200 + b"\n%%EOF\n"
CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"


@pytest.fixture
def s3(monkeypatch) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with an empty bucket; its endpoint URL."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per Python process, not per server: start from none.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    new_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def host(tmp_path: Path, name: str, database: Path | None = None, **settings: Any) -> Any:
    """An app with a folder of its own on the shared SQLite database (one host of several)."""
    folder = tmp_path / name
    folder.mkdir()
    return build_app(
        TestDatabase("sqlite", None),
        folder,
        DATABASE_URL=f"sqlite:///{database or tmp_path / 'shared.db'}",
        **settings,
    )


def s3_app(
    tmp_path: Path, endpoint: str, name: str, database: Path | None = None, **settings: Any
) -> Any:
    """A host whose files live in the moto bucket."""
    store = {"FILE_STORE_URL": f"s3://{BUCKET}/team", "S3_ENDPOINT_URL": endpoint}
    return host(tmp_path, name, database, **store, **settings)


def objects(endpoint: str) -> set[str]:
    listed = new_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {entry["Key"] for entry in listed}


def new_part(app: Any, name: str = "Bracket") -> int:
    return make_part(app, name)


def test_upload_lands_under_its_content_hash_and_another_host_serves_it(s3, tmp_path):
    first, second = s3_app(tmp_path, s3, "a"), s3_app(tmp_path, s3, "b")
    part_id = new_part(first)
    body = upload_ok(first.test_client(), headers(first), part_id, PDF, "drawing.pdf")
    sha = hashlib.sha256(PDF).hexdigest()
    uuid = first.test_client().get(f"/api/parts/{part_id}", headers=headers(first)).json["uuid"]
    assert body["sha256"] == sha
    assert objects(s3) == {f"team/parts/{uuid}/{sha}.pdf"}
    # The second host has its own, empty folder: it fetches the object.
    assert not any(Path(second.config["UPLOAD_FOLDER"]).rglob("*.pdf"))
    client, url = second.test_client(), f"/api/parts/{part_id}/download"
    whole = get_closed(client, url, headers(second))
    assert whole.status_code == 200 and whole.data == PDF
    assert whole.headers["ETag"] == f'"{sha}"'
    ranged = client.get(url, headers={**headers(second), "Range": "bytes=0-7"})
    assert ranged.status_code == 206 and ranged.data == PDF[:8]
    ranged.close()
    unchanged = client.get(url, headers={**headers(second), "If-None-Match": f'"{sha}"'})
    assert unchanged.status_code == 304
    unchanged.close()


def test_failed_put_answers_503_and_leaves_no_row_pointing_at_it(s3, tmp_path):
    app = s3_app(tmp_path, s3, "a")
    part_id = new_part(app)
    store = new_client(s3)
    store.delete_bucket(Bucket=BUCKET)
    response = post_upload(app.test_client(), headers(app), part_id, PDF, "drawing.pdf")
    assert response.status_code == 503
    assert response.get_json()["code"] == "file_store_unavailable"
    # As the OpenAPI document says (tests/test_openapi_document.py): whole seconds.
    assert int(response.headers["Retry-After"]) > 0
    part = app.test_client().get(f"/api/parts/{part_id}", headers=headers(app)).get_json()
    assert part["file"] is None
    assert not any(Path(app.config["UPLOAD_FOLDER"]).rglob("*.pdf"))


def test_a_download_the_bucket_cannot_answer_is_a_503_with_retry_after(s3, tmp_path):
    first = s3_app(tmp_path, s3, "a")
    part_id = new_part(first)
    uploaded = post_upload(first.test_client(), headers(first), part_id, PDF, "drawing.pdf")
    assert uploaded.status_code == 201, uploaded.get_json()
    second = s3_app(tmp_path, s3, "b")  # a host whose cache holds nothing
    requests.post(f"{s3}/moto-api/reset", timeout=10).raise_for_status()  # the bucket is gone
    response = second.test_client().get(f"/api/parts/{part_id}/file", headers=headers(second))
    assert response.status_code == 503
    assert response.get_json()["code"] == "file_store_unavailable"
    # As the OpenAPI document says (tests/test_openapi_document.py): whole seconds.
    assert int(response.headers["Retry-After"]) > 0
    assert not any((tmp_path / "b").rglob("*.pdf"))  # nothing half-fetched left in the cache


def test_delete_part_removes_its_objects(s3, tmp_path):
    app = s3_app(tmp_path, s3, "a")
    part_id = new_part(app)
    upload_ok(app.test_client(), headers(app), part_id, PDF, "drawing.pdf")
    assert objects(s3)
    response = app.test_client().delete(f"/api/parts/{part_id}", headers=headers(app))
    assert response.status_code == 200
    assert objects(s3) == set()


def test_flask_files_finds_and_removes_an_orphan_object(s3, tmp_path):
    app = s3_app(tmp_path, s3, "a")
    part_id = new_part(app)
    upload_ok(app.test_client(), headers(app), part_id, PDF, "drawing.pdf")
    orphan = "team/parts/0123456789abcdef0123456789abcdef/" + "0" * 64 + ".pdf"
    new_client(s3).put_object(Bucket=BUCKET, Key=orphan, Body=PDF)
    report = cli(app, "files")
    assert "orphan part folder 0123456789abcdef0123456789abcdef" in report.output
    assert cli(app, "files", "--clean").exit_code == 0
    assert orphan not in objects(s3) and len(objects(s3)) == 1
    assert cli(app, "files").output.strip() == "files and parts agree"


def test_backup_and_restore_round_trip_through_the_bucket(s3, tmp_path):
    app = s3_app(tmp_path, s3, "a")
    part_id = new_part(app)
    upload_ok(app.test_client(), headers(app), part_id, PDF, "drawing.pdf")
    before = objects(s3)
    result = cli(app, "backup", "--dest", str(tmp_path / "bk"))
    assert result.exit_code == 0, result.output
    archive = only_archive(tmp_path / "bk")
    store = new_client(s3)
    for key in before:
        store.delete_object(Bucket=BUCKET, Key=key)
    store.put_object(Bucket=BUCKET, Key="team/models/" + "1" * 64 + ".glb", Body=b"x")
    restored = cli(app, "restore", str(archive), "--yes")
    assert restored.exit_code == 0, restored.output
    assert objects(s3) == before
    fresh = s3_app(tmp_path, s3, "b", database=tmp_path / "shared.db")
    download = get_closed(fresh.test_client(), f"/api/parts/{part_id}/download", headers(fresh))
    assert download.status_code == 200 and download.data == PDF


def converted_through_the_bucket(s3: str, tmp_path: Path) -> tuple[Any, int]:
    """A host with a part whose cube was uploaded there and converted on another host."""
    if not CUBE.is_file():
        pytest.skip(f"fixture {CUBE} missing")
    app, worker = s3_app(tmp_path, s3, "a"), s3_app(tmp_path, s3, "worker")
    part_id = new_part(app)
    upload_ok(app.test_client(), headers(app), part_id, CUBE.read_bytes(), "cube.step")
    assert worker.extensions["conversion_runner"].run_one()
    return app, part_id


def test_conversion_fetches_the_step_and_puts_the_models_back(s3, tmp_path):
    _app, part_id = converted_through_the_bucket(s3, tmp_path)
    models = {key for key in objects(s3) if key.startswith("team/models/")}
    assert any(key.endswith(".glb") and key.count(".") == 1 for key in models)
    reader = s3_app(tmp_path, s3, "c")
    served = get_closed(reader.test_client(), f"/api/parts/{part_id}/model", headers(reader))
    assert served.status_code == 200 and served.data[:4] == b"glTF"


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3://Bad_Bucket/x", "s3://key:secret@bucket/x", "gs://bucket/x", "s3://bkt/../x"],
)
def test_bad_file_store_url_is_refused(tmp_path, url):
    with pytest.raises(ConfigError) as refused:
        create_app("testing", {"FILE_STORE_URL": url, "UPLOAD_FOLDER": str(tmp_path)})
    assert "FILE_STORE_URL" in str(refused.value) and "secret" not in str(refused.value)


def test_unreachable_bucket_refuses_to_start(s3, tmp_path):
    app = create_app(
        "testing",
        {
            "FILE_STORE_URL": "s3://no-such-bucket/x",
            "S3_ENDPOINT_URL": s3,
            "UPLOAD_FOLDER": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        },
    )
    with pytest.raises(ConfigError, match="no-such-bucket.*no such bucket"):
        check_services(app)


def test_the_repair_lists_the_models_once_and_requeues_only_a_vanished_one(s3, tmp_path):
    from app.extensions import db
    from models.base import write_transaction
    from utils.part_models import repair_model_states

    app, part_id = converted_through_the_bucket(s3, tmp_path)
    other = s3_app(tmp_path, s3, "c")
    store = other.extensions["storage"]
    calls: list[str] = []
    client = store.client
    for name in ("head_object", "get_object", "list_objects_v2"):
        real = getattr(client, name)
        setattr(client, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k))
    with other.app_context():
        assert repair_model_states(db.session, store, write_transaction) == 0
    assert "head_object" not in calls and "get_object" not in calls
    # The raw GLB gone from the bucket: that model, and only it, is converted again.
    [raw] = [k for k in objects(s3) if k.startswith("team/models/") and k.count(".") == 1]
    new_client(s3).delete_object(Bucket=BUCKET, Key=raw)
    with other.app_context():
        assert repair_model_states(db.session, store, write_transaction) == 1
    part = get_closed(app.test_client(), f"/api/parts/{part_id}", headers(app)).get_json()
    assert part["modelStatus"] == "pending"
