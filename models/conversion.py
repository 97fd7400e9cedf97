"""STEP → GLB conversion jobs: one row per (content hash, settings), shared by every part
with that content, so the same file converts once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from models.base import db
from models.part import Part
from models.revision import bump_parts_revision
from models.states import ModelStatus
from models.types import UTCDateTime, utcnow
from utils.processes import pid_alive

PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
# What a part shows for each job state (a running job is still "pending" to the user).
PART_STATUS = {
    PENDING: ModelStatus.PENDING,
    RUNNING: ModelStatus.PENDING,
    READY: ModelStatus.READY,
    FAILED: ModelStatus.FAILED,
}
# Earlier versions recorded a source file deleted mid-conversion as a failure of its content
# ("[Errno 2] No such file or directory: '<path>'"); such a failure is converted again.
MISSING_INPUT_ERROR = "No such file or directory"
# Tries of one job (since it was last requested) whose worker died before recording an
# outcome; then the content is taken for a poison file and the job fails instead of looping.
MAX_ATTEMPTS = 3
WORKER_DIED_ERROR = (
    "The conversion stopped its worker process {attempts} times; this file cannot be converted"
)


class ConversionJob(db.Model):
    """The conversion of one STEP content with one set of tolerances."""

    __tablename__ = "conversion_jobs"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    step_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    glb_size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def request_conversion(session: Session, key: str, sha256: str) -> ConversionJob:
    """The job for this content: reused when ready or under way, (re)queued otherwise."""
    job = session.get(ConversionJob, key)
    if job is None:
        job = ConversionJob(key=key, step_sha256=sha256, status=PENDING, attempts=0)
        session.add(job)
    elif job.status == FAILED:
        # Re-uploading a file that failed is the user asking for another try (or tries).
        job.status, job.error, job.worker, job.attempts = PENDING, None, None, 0
    return job


def claim_job(session: Session, key: str, worker: str) -> bool:
    """Take a pending job for this worker; of several workers exactly one succeeds."""
    now = utcnow()
    claimed = session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key, ConversionJob.status == PENDING)
        .values(
            status=RUNNING,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            attempts=ConversionJob.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(claimed)


def pending_keys(session: Session, limit: int = 10) -> list[str]:
    """Oldest pending jobs first."""
    return list(
        session.execute(
            select(ConversionJob.key)
            .where(ConversionJob.status == PENDING)
            .order_by(ConversionJob.created_at, ConversionJob.key)
            .limit(limit)
        ).scalars()
    )


def count_pending(session: Session) -> int:
    """How many jobs wait for a worker."""
    return int(session.scalar(select(func.count()).where(ConversionJob.status == PENDING)) or 0)


def finish_job(session: Session, key: str, *, error: str | None, glb_size: int | None) -> None:
    """Record the outcome and copy it to every part waiting on this content."""
    status = FAILED if error else READY
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key)
        .values(status=status, error=error, glb_size=glb_size, finished_at=utcnow(), worker=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Part)
        .where(Part.model_key == key)
        .values(model_status=PART_STATUS[status], model_error=error, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    bump_parts_revision(session)


def drop_job(session: Session, key: str) -> bool:
    """Delete a job that no part points at (its file left with its parts); False if one does."""
    wanted = select(Part.id).where(Part.model_key == key).exists()
    dropped = session.execute(
        delete(ConversionJob)
        .where(ConversionJob.key == key, ~wanted)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(dropped)


def reconcile_part(session: Session, part: Part) -> bool:
    """Repair a model state that cannot move on by itself; True when something changed.

    A failure for a missing input file is converted again; a pending part whose job is gone
    (dropped for want of a source just as this part's upload committed) is queued again; a
    pending part whose job already ended (the upload committed just after) takes its outcome.
    """
    key = part.model_key
    if key is None or part.model_status not in (ModelStatus.PENDING, ModelStatus.FAILED):
        return False
    job, queued = session.get(ConversionJob, key), False
    if job is None:
        job = request_conversion(session, key, part.file_sha256 or key.split("-", 1)[0])
        queued = True
    elif job.status == FAILED and MISSING_INPUT_ERROR in (job.error or ""):
        job.status, job.error, job.worker = PENDING, None, None
        queued = True
    status, error = PART_STATUS[job.status], job.error
    if not queued and (part.model_status, part.model_error) == (status, error):
        return False
    session.execute(
        update(Part)
        .where(Part.model_key == key)
        .values(model_status=status, model_error=error, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # The row already says so: keep the loaded part in step without a second UPDATE.
    set_committed_value(part, "model_status", status)
    set_committed_value(part, "model_error", error)
    bump_parts_revision(session)
    return True


def requeue_job(session: Session, key: str) -> None:
    """Convert again (e.g. the GLB vanished from disk); parts show pending meanwhile."""
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key)
        .values(status=PENDING, error=None, worker=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Part)
        .where(Part.model_key == key)
        .values(model_status=ModelStatus.PENDING, model_error=None)
        .execution_options(synchronize_session=False)
    )
    bump_parts_revision(session)


def touch_heartbeats(session: Session, worker: str, keys: Iterable[str]) -> None:
    """Say this worker is alive for the jobs it is converting right now (only those: a job
    whose result could not be recorded must go stale and be retried)."""
    keys = list(keys)
    if not keys:
        return
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.worker == worker, ConversionJob.status == RUNNING)
        .where(ConversionJob.key.in_(keys))
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def recover_stale_jobs(
    session: Session, older_than: timedelta, own_prefix: str | None = None
) -> int:
    """Running jobs whose worker died (killed, restarted) go back to pending; returns how
    many. One that has killed MAX_ATTEMPTS workers fails instead (its parts show why).

    A job is stale when its heartbeat is old, or, at start-up (own_prefix given), when it
    belongs to an earlier process on this host (our host prefix, not a live pid).
    """
    cutoff = utcnow() - older_than
    running = session.execute(select(ConversionJob).where(ConversionJob.status == RUNNING))
    count = 0
    for job in list(running.scalars()):
        dead_here = (
            own_prefix is not None
            and bool(job.worker)
            and job.worker.startswith(own_prefix)
            and not _alive(job.worker)
        )
        if not (dead_here or job.heartbeat_at is None or job.heartbeat_at < cutoff):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            session.flush()
            finish_job(
                session,
                job.key,
                error=WORKER_DIED_ERROR.format(attempts=job.attempts),
                glb_size=None,
            )
            session.expire(job)
        else:
            job.status, job.worker = PENDING, None
            count += 1
    return count


def _alive(worker: str) -> bool:
    """Worker ids are host:pid:n. Our own pid counts as dead: recovery runs before this
    process claims anything, so such a job is an earlier process's (pid 1 in a container)."""
    try:
        pid = int(worker.split(":")[1])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and pid_alive(pid)
