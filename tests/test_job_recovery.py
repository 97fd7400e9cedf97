"""Start-up recovery of jobs left running by a killed worker that nobody has reaped yet."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import models.conversion as conversion_module
from app.extensions import db
from config import ConfigError, load_settings
from models.conversion import ConversionJob, recover_stale_jobs
from models.types import utcnow
from tests.helpers import upload_ok
from utils.jobs import stale_after

STEP = b"ISO-10303-21;\nHEADER;\n" + b"x" * 64
PART = {"name": "Bracket", "type": "cnc", "material": "6061 Aluminum", "subsystem": "Drive"}
# What a production process needs besides the setting under test.
# CONFIG_FILE: no settings file, not this machine's config.json.
ENVIRON = {"SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite://", "CONFIG_FILE": os.devnull}


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_start_up_recovery_takes_a_zombie_workers_job_for_dead(
    app, client, auth_headers, make_part
):
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    # Exited but not waited for: its pid still exists, as a killed gunicorn worker's does
    # until its parent or a late init reaps it.
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30  # a failure guard only
        while process_state(zombie.pid) != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.05)
        with app.app_context():
            job = db.session.execute(db.select(ConversionJob)).scalar_one()
            job.status, job.worker = "running", f"{socket.gethostname()}:{zombie.pid}"
            job.heartbeat_at = utcnow()  # fresh: only the dead worker makes it stale
            db.session.commit()
            prefix = f"{socket.gethostname()}:"
            assert recover_stale_jobs(db.session, timedelta(seconds=60), prefix) == 1
            db.session.commit()
            job = db.session.execute(db.select(ConversionJob)).scalar_one()
            assert (job.status, job.worker) == ("pending", None)
    finally:
        zombie.wait()


def run_beat_on_job_aged(application: Any, age_seconds: float) -> tuple[str, str | None]:
    """Upload a STEP, make its job another host's with a heartbeat `age_seconds` old, let
    this process's runner beat once; the job's (status, worker) after it."""
    client, headers = application.test_client(), {"X-API-Key": application.config["SECRET_KEY"]}
    created = client.post("/api/parts/", json=PART, headers=headers)
    assert created.status_code == 201, created.get_json()
    upload_ok(client, headers, created.get_json()["id"], STEP, "a.step")
    with application.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        job.status, job.worker = "running", "another-host:4242"
        job.heartbeat_at = utcnow() - timedelta(seconds=age_seconds)
        db.session.commit()
    application.extensions["conversion_runner"].beat()
    with application.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        return job.status, job.worker


@pytest.mark.parametrize(
    ("stale_seconds", "age", "taken_over"),
    [(None, 45, False), (None, 75, True), (30, 45, True), (30, 20, False), (120, 75, False)],
)
def test_beat_takes_over_a_job_once_its_heartbeat_is_job_stale_seconds_old(
    make_app, stale_seconds, age, taken_over
):
    settings = {} if stale_seconds is None else {"JOB_STALE_SECONDS": stale_seconds}
    status, worker = run_beat_on_job_aged(make_app(**settings), age)
    expected = ("pending", None) if taken_over else ("running", "another-host:4242")
    assert (status, worker) == expected


@pytest.mark.parametrize("value", [29, 0, -60, "soon", True])
def test_job_stale_seconds_below_three_heartbeats_is_refused(make_app, value):
    with pytest.raises(ConfigError, match="JOB_STALE_SECONDS must be a number of seconds"):
        make_app(JOB_STALE_SECONDS=value)


def test_job_stale_seconds_from_the_environment_is_a_number():
    settings = load_settings("production", environ=ENVIRON | {"JOB_STALE_SECONDS": "45"})
    assert settings["JOB_STALE_SECONDS"] == 45
    assert stale_after(settings["JOB_STALE_SECONDS"]) == timedelta(seconds=45)


def test_start_up_recovery_survives_another_worker_writing_meanwhile(
    app, client, auth_headers, make_part, test_database, monkeypatch
):
    """gunicorn's workers start together and each recovers at start: another worker's write
    landing between this one's read and its update must not fail the boot (a deferred
    SQLite transaction failed at once with "database is locked", and gunicorn then stopped
    the whole server)."""
    if test_database.name != "sqlite":
        pytest.skip("SQLite's lock upgrade; the servers lock rows")
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    runner = app.extensions["conversion_runner"]
    with app.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        job.status, job.worker = "running", f"{runner.host_prefix}999999999"  # no such pid
        db.session.commit()
        database_file = db.engine.url.database
    real = conversion_module.recover_stale_jobs

    def another_worker_writes_first(session, *args):
        session.execute(db.select(ConversionJob)).all()  # this transaction has read
        other = sqlite3.connect(database_file, timeout=0.2)
        try:
            other.execute("UPDATE revisions SET value = value + 1")
            other.commit()
        except sqlite3.OperationalError:
            pass  # this transaction holds the write lock: the other worker waits its turn
        finally:
            other.close()
        return real(session, *args)

    monkeypatch.setattr(conversion_module, "recover_stale_jobs", another_worker_writes_first)
    assert runner.recover() == 1
    with app.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        assert (job.status, job.worker) == ("pending", None)
        # The heartbeat's sweep reads and updates the same way (a job another host left).
        job.status, job.worker = "running", "another-host:4242"
        job.heartbeat_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    runner.beat()
    with app.app_context():
        job = db.session.execute(db.select(ConversionJob)).scalar_one()
        assert job.worker != "another-host:4242", (job.status, job.worker)


def test_converting_again_counts_worker_deaths_from_zero(app, client, auth_headers, make_part):
    # A GLB gone from disk is converted again: a new conversion, not the old one's last life.
    part = make_part()
    upload_ok(client, auth_headers, part["id"], STEP, "a.step")
    with app.app_context():
        job = db.session.scalars(select(ConversionJob)).one()
        job.attempts = conversion_module.MAX_ATTEMPTS - 1
        db.session.commit()
        conversion_module.requeue_job(db.session, job.key)
        db.session.commit()
        db.session.expire_all()
        again = db.session.get(ConversionJob, job.key)
        assert (again.status, again.attempts) == ("pending", 0)
