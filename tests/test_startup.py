"""create_app only wires; the start-up steps (schema, services, runner) are explicit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, select

from app import create_app
from app.extensions import db
from app.startup import check_services, prepare, start_background
from config import ConfigError
from models.conversion import PENDING, RUNNING, ConversionJob
from models.part import Part
from models.types import utcnow


def _settings(tmp_path, **extra):
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parts.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "FRONTEND_DIST": str(tmp_path / "dist"),
        "SECRET_KEY": "startup-test-key-0123456789abcdefghij",
        **extra,
    }


def _runner_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("convert-")]


def test_create_app_creates_no_tables_threads_or_folders(tmp_path):
    before = _runner_threads()
    application = create_app("production", _settings(tmp_path, CONVERSION_IN_BACKGROUND=True))
    with application.app_context():
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()
    assert _runner_threads() == before
    assert not (tmp_path / "uploads").exists()


def test_create_app_does_not_contact_an_unreachable_limit_storage(tmp_path):
    unreachable = _settings(tmp_path, RATELIMIT_STORAGE_URI="redis://:secret-pw@127.0.0.1:1")
    application = create_app("production", unreachable)  # building must not fail
    with pytest.raises(ConfigError, match="cannot reach the rate-limit storage") as caught:
        check_services(application)
    assert "secret-pw" not in str(caught.value)


def test_prepare_migrates_and_claims_no_job(tmp_path):
    """deploy.py prepares the database just before it becomes the server: a job left running
    by a dead server must stay for the server's own runner, not be claimed by the preparer."""
    settings = _settings(tmp_path, CONVERSION_IN_BACKGROUND=True)
    first = create_app("production", settings)
    prepare(first)
    with first.app_context():
        assert "conversion_jobs" in inspect(db.engine).get_table_names()
        db.session.add(ConversionJob(key="abc-1", step_sha256="abc", status=PENDING, attempts=0))
        db.session.commit()
        db.engine.dispose()
    before = _runner_threads()
    again = create_app("production", settings)
    prepare(again)  # idempotent, and still no runner
    assert _runner_threads() == before
    with again.app_context():
        job = db.session.execute(select(ConversionJob)).scalar_one()
        assert (job.status, job.worker, job.attempts) == (PENDING, None, 0)
        db.engine.dispose()


def test_start_background_recovers_a_dead_servers_job_at_once(tmp_path):
    settings = _settings(tmp_path, CONVERSION_IN_BACKGROUND=True, CONVERSION_WORKERS=1)
    application = create_app("production", settings)
    prepare(application)
    runner = application.extensions["conversion_runner"]
    with application.app_context():
        job = ConversionJob(key="abc-1", step_sha256="abc", status=RUNNING, attempts=1)
        dead_worker = f"{runner.host_prefix}999999999"
        job.worker, job.heartbeat_at = dead_worker, utcnow()
        db.session.add(job)
        db.session.commit()
    try:
        start_background(application)
        assert _runner_threads()
        with application.app_context():
            db.session.expire_all()
            job = db.session.get(ConversionJob, "abc-1")
            # Taken from the dead server by the start itself, not after a heartbeat timeout
            # (no part holds its file, so the runner may already have tried and ended it).
            assert job is None or job.worker != dead_worker
    finally:
        runner.stop()
        with application.app_context():
            db.engine.dispose()


def test_start_background_respects_conversion_in_background_off(tmp_path):
    before = _runner_threads()
    application = create_app("production", _settings(tmp_path, CONVERSION_IN_BACKGROUND=False))
    prepare(application)
    start_background(application)
    assert _runner_threads() == before
    with application.app_context():
        db.engine.dispose()


NO_SUCH_PID = 2**22 + 7  # above Linux's largest pid: never a live process


def test_prepare_counts_only_tmp_folders_holding_a_half_written_upload(tmp_path, caplog):
    """A server stopped cleanly leaves its tmp/<pid> folder empty: removed, not reported
    as a half-written upload (every restart said "removed 1 half-written uploads")."""
    tmp_root = tmp_path / "uploads" / "tmp"
    (tmp_root / str(NO_SUCH_PID)).mkdir(parents=True)
    application = create_app("production", _settings(tmp_path))
    with caplog.at_level("INFO", logger="aerie.startup"):
        prepare(application)
    assert not (tmp_root / str(NO_SUCH_PID)).exists()
    assert "half-written" not in caplog.text

    (tmp_root / str(NO_SUCH_PID)).mkdir()
    (tmp_root / str(NO_SUCH_PID) / "upload.part").write_bytes(b"ISO-10303-21;")
    (tmp_root / str(NO_SUCH_PID + 1)).mkdir()
    caplog.clear()
    with caplog.at_level("INFO", logger="aerie.startup"):
        prepare(application)
    assert list(tmp_root.iterdir()) == []
    assert "removed 1 half-written uploads" in caplog.text
    with application.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "refusing", [{"ALLOWED_EXTENSIONS": ["pdf"]}, {"UPLOAD_MAX_BYTES": 1000}], ids=str
)
def test_sample_parts_load_when_the_upload_settings_refuse_the_sample_file(
    tmp_path, caplog, refusing
):
    """`python run.py` with uploads limited to PDFs or to 1,000 bytes: the sample parts are
    added (the plate without its STEP file) and the server starts; it stopped with a
    traceback from the refused sample upload."""
    settings = _settings(tmp_path, SAMPLE_DATA=True, CONVERSION_IN_BACKGROUND=False, **refusing)
    application = create_app("development", settings)
    with caplog.at_level("WARNING", logger="aerie.startup"):
        prepare(application)
    assert "sample file mounting_plate.step not attached" in caplog.text
    with application.app_context():
        parts = db.session.execute(select(Part)).scalars().all()
        assert len(parts) > 1
        assert all(not part.file for part in parts)
        db.engine.dispose()
    assert not [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]


def test_a_data_folder_made_by_another_server_a_moment_ago_is_fine(tmp_path, monkeypatch):
    """deploy.py prod and prod-gunicorn started together on a fresh checkout: both saw no
    data/, one made it, and the other stopped with "cannot create …: File exists"."""
    from pathlib import Path

    from app.startup import ensure_sqlite_folder

    data = tmp_path / "data"
    application = create_app(
        "production", _settings(tmp_path, DATABASE_URL=f"sqlite:///{data / 'parts.db'}")
    )
    real_is_dir = Path.is_dir

    def made_meanwhile(path: Path) -> bool:
        if path == data and not data.exists():
            data.mkdir()  # the other server, between our look and our mkdir
            return False
        return real_is_dir(path)

    monkeypatch.setattr(Path, "is_dir", made_meanwhile)
    ensure_sqlite_folder(application)
    assert real_is_dir(data)
