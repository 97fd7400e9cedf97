"""Start-up recovery of jobs left running by a killed worker that nobody has reaped yet."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from app.extensions import db
from models.conversion import ConversionJob, recover_stale_jobs
from models.types import utcnow
from tests.helpers import upload_ok

STEP = b"ISO-10303-21;\nHEADER;\n" + b"x" * 64


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
