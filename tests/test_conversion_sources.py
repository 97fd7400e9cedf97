"""Which file a conversion reads: parts deleted mid-way, shared content, paths in messages."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

import utils.conversion_errors as conversion_errors
import utils.step_converter as converter
from app.database import write_transaction
from app.extensions import db
from models.conversion import ConversionJob
from models.part import Part
from tests.conftest import FIXTURES
from tests.helpers import get_closed, upload_ok
from utils.part_models import repair_model_states
from utils.storage import FileStoreUnavailableError

CUBE = FIXTURES / "step" / "cadquery_red_cube_blue_cylinder.step"
# What servers before this fix stored when a part's file vanished under its conversion.
LEGACY_ERROR = (
    "The STEP file could not be converted ([Errno 2] No such file or directory: "
    "'{folder}/parts/3f0c/{sha}.stp')."
)


@pytest.fixture
def cube() -> bytes:
    if not CUBE.is_file():
        pytest.skip(f"fixture {CUBE} missing")
    return CUBE.read_bytes()


def once_before(real: Callable[..., Any], action: Callable[[], None]) -> Callable[..., Any]:
    """`real`, with `action` run just before its first call (the moment a race would hit)."""
    pending = [action]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        while pending:
            pending.pop()()
        return real(*args, **kwargs)

    return wrapper


def model(client, headers, part_id) -> Any:
    return get_closed(client, f"/api/parts/{part_id}/model", headers)


def jobs(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(select(ConversionJob.status, ConversionJob.error)).all()
        db.session.rollback()
    return [tuple(row) for row in rows]


def assert_no_server_path(app, response) -> None:
    for fragment in (app.config["UPLOAD_FOLDER"], "/parts/", ".converting"):
        assert fragment.encode() not in response.data


def repair(app) -> int:
    """What the conversion runner does for GET /model (which only reads): repair states."""
    with app.app_context():
        return repair_model_states(db.session, app.extensions["storage"], write_transaction)


@pytest.mark.parametrize("moment", ["before-the-file-is-read", "while-the-child-starts"])
def test_part_deleted_mid_conversion_does_not_fail_the_same_file_on_another_part(
    app, client, auth_headers, make_part, monkeypatch, cube, moment
):
    first, second = make_part(), make_part(name="Twin")
    upload_ok(client, auth_headers, first["id"], cube, "cube.step")

    def delete_first_upload_second() -> None:
        response = client.delete(f"/api/parts/{first['id']}", headers=auth_headers)
        assert response.status_code == 200
        upload_ok(client, auth_headers, second["id"], cube, "cube.step")

    # The runner has picked the first part's file; the delete lands before the converter
    # opens it, or after, just as the child is about to read it.
    target = "convert_step" if moment == "before-the-file-is-read" else "run_worker"
    monkeypatch.setattr(
        converter, target, once_before(getattr(converter, target), delete_first_upload_second)
    )
    assert app.extensions["conversion_runner"].run_one() is True
    response = model(client, auth_headers, second["id"])
    assert_no_server_path(app, response)
    assert (response.status_code, response.data[:4]) == (200, b"glTF")
    assert jobs(app) == [("ready", None)]
    assert not (Path(app.config["UPLOAD_FOLDER"]) / "parts" / first["uuid"]).exists()


def test_job_whose_every_part_is_gone_is_dropped_not_failed(
    app, client, auth_headers, make_part, monkeypatch, cube
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")

    def delete_part() -> None:
        assert client.delete(f"/api/parts/{part['id']}", headers=auth_headers).status_code == 200

    monkeypatch.setattr(converter, "convert_step", once_before(converter.convert_step, delete_part))
    runner = app.extensions["conversion_runner"]
    assert runner.run_one() is True
    assert jobs(app) == []
    assert not list(Path(app.config["UPLOAD_FOLDER"], "models").glob("*.glb"))
    # The same bytes later are a fresh start, not a cached failure.
    later = make_part(name="Later")
    body = upload_ok(client, auth_headers, later["id"], cube, "cube.step")
    assert body["conversion"] == {"status": "pending", "success": None, "error": None}
    assert runner.run_one() is True
    assert model(client, auth_headers, later["id"]).status_code == 200


def test_part_uploaded_as_the_job_is_about_to_be_dropped_gets_its_model(
    app, client, auth_headers, make_part, monkeypatch, cube
):
    import models.conversion

    first, second = make_part(), make_part(name="Twin")
    upload_ok(client, auth_headers, first["id"], cube, "cube.step")

    def delete_first() -> None:
        assert client.delete(f"/api/parts/{first['id']}", headers=auth_headers).status_code == 200

    def upload_second() -> None:  # committed after the runner found no file, before the drop
        upload_ok(client, auth_headers, second["id"], cube, "cube.step")

    monkeypatch.setattr(
        converter, "convert_step", once_before(converter.convert_step, delete_first)
    )
    monkeypatch.setattr(
        models.conversion, "drop_job", once_before(models.conversion.drop_job, upload_second)
    )
    assert app.extensions["conversion_runner"].run_one() is True
    response = model(client, auth_headers, second["id"])
    assert (response.status_code, response.data[:4]) == (200, b"glTF")
    assert jobs(app) == [("ready", None)]


def test_converter_message_naming_a_server_path_is_shown_without_it(
    app, client, auth_headers, make_part, monkeypatch, cube
):
    real = converter.run_worker

    def read_a_folder(src: Path, workdir: Path, *args: Any, **kwargs: Any) -> Any:
        # The real child, given its work folder to read: Python's error names that folder.
        return real(workdir, workdir, *args, **kwargs)

    monkeypatch.setattr(converter, "run_worker", read_a_folder)
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    assert app.extensions["conversion_runner"].run_one() is True
    response = model(client, auth_headers, part["id"])
    assert response.status_code == 422
    assert "Is a directory: <path>" in response.get_json()["details"]
    assert_no_server_path(app, response)
    listed = get_closed(client, f"/api/parts/{part['id']}", auth_headers)
    assert_no_server_path(app, listed)


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "[Errno 2] No such file or directory: '/srv/My Files/uploads/a.stp'",
            "[Errno 2] No such file or directory: <path>",
        ),
        (
            '[Errno 13] Permission denied: "/srv/it\'s/a.stp"',
            "[Errno 13] Permission denied: <path>",
        ),
        ("cannot read /srv/uploads/parts/x/a.stp).", "cannot read <path>)."),
        ("A null Label has no attribute", "A null Label has no attribute"),
        ("and/or 1/2 of the faces", "and/or 1/2 of the faces"),
    ],
)
def test_hide_paths_leaves_the_message_but_no_path(message: str, shown: str) -> None:
    assert conversion_errors.hide_paths(message) == shown


def store_legacy_failure(app, part_id: int) -> None:
    with app.app_context():
        part = db.session.get(Part, part_id)
        error = LEGACY_ERROR.format(folder=app.config["UPLOAD_FOLDER"], sha=part.file_sha256)
        db.session.execute(
            update(ConversionJob)
            .where(ConversionJob.key == part.model_key)
            .values(status="failed", error=error)
        )
        part.model_status, part.model_error = "failed", error
        db.session.commit()


def test_cached_missing_file_failure_is_converted_again_after_the_next_model_request(
    app, client, auth_headers, make_part, cube
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    store_legacy_failure(app, part["id"])
    response = model(client, auth_headers, part["id"])
    assert response.status_code == 202
    assert_no_server_path(app, response)
    assert jobs(app)[0][0] == "failed"  # GET only reads
    assert repair(app) == 1
    assert jobs(app) == [("pending", None)]
    assert app.extensions["conversion_runner"].run_one() is True
    assert model(client, auth_headers, part["id"]).status_code == 200


def test_reupload_requeues_a_cached_missing_file_failure(
    app, client, auth_headers, make_part, cube
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    store_legacy_failure(app, part["id"])
    body = upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    assert body["conversion"] == {"status": "pending", "success": None, "error": None}
    assert app.extensions["conversion_runner"].run_one() is True
    assert model(client, auth_headers, part["id"]).status_code == 200


def test_pending_part_whose_job_was_dropped_is_queued_again(
    app, client, auth_headers, make_part, cube
):
    # The upload read the job just before the runner dropped it for want of a live file.
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    with app.app_context():
        db.session.execute(delete(ConversionJob))
        db.session.commit()
    runner = app.extensions["conversion_runner"]
    assert runner.run_one() is False
    assert model(client, auth_headers, part["id"]).status_code == 202
    assert jobs(app) == []  # GET only reads
    assert repair(app) == 1
    assert jobs(app) == [("pending", None)]
    assert runner.run_one() is True
    assert model(client, auth_headers, part["id"]).status_code == 200


def test_pending_part_whose_job_already_ended_takes_its_outcome(
    app, client, auth_headers, make_part, cube
):
    # The upload committed "pending" just after the job had finished for everyone else.
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")
    assert app.extensions["conversion_runner"].run_one() is True
    with app.app_context():
        db.session.execute(update(Part).values(model_status="pending"))
        db.session.commit()
    assert model(client, auth_headers, part["id"]).status_code == 200
    assert repair(app) == 1  # GET served the job's outcome; the runner records it
    listed = get_closed(client, f"/api/parts/{part['id']}", auth_headers).get_json()
    assert listed["modelStatus"] == "ready"
    assert repair(app) == 0


@pytest.mark.parametrize(
    "failure",
    [
        FileStoreUnavailableError("The file store could not be reached"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
    ids=["store unreachable", "disk full"],
)
def test_files_unavailable_for_now_fail_for_now_and_convert_again(
    app, client, auth_headers, make_part, cube, monkeypatch, failure
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise failure

    with monkeypatch.context() as patched:
        patched.setattr(converter, "convert_step", unavailable)
        assert app.extensions["conversion_runner"].run_one() is True
    [(status, error)] = jobs(app)
    assert status == "failed" and "try again" in error
    # The content is not at fault: the model is pending, not a 422, and is converted again.
    assert model(client, auth_headers, part["id"]).status_code == 202
    assert repair(app) == 1
    assert jobs(app) == [("pending", None)]
    assert app.extensions["conversion_runner"].run_one() is True
    assert model(client, auth_headers, part["id"]).status_code == 200


def test_a_file_error_of_the_content_still_fails_for_good(
    app, client, auth_headers, make_part, cube, monkeypatch
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], cube, "cube.step")

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(converter, "convert_step", refused)
    assert app.extensions["conversion_runner"].run_one() is True
    assert model(client, auth_headers, part["id"]).status_code == 422
    assert repair(app) == 0
