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
from models.events import record_model_result
from models.part import Part
from models.revision import write_parts
from models.states import JobStatus, ModelStatus
from models.types import UTCDateTime, utcnow
from utils.processes import pid_alive

# Short names for the job states, as utils/part_files.py and utils/part_models.py import them.
PENDING, RUNNING, READY, FAILED = (
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.READY,
    JobStatus.FAILED,
)
# What a part shows for each job state (a running job is still "pending" to the user).
PART_STATUS: dict[str, ModelStatus] = {
    JobStatus.PENDING: ModelStatus.PENDING,
    JobStatus.RUNNING: ModelStatus.PENDING,
    JobStatus.READY: ModelStatus.READY,
    JobStatus.FAILED: ModelStatus.FAILED,
}
# Earlier versions recorded a source file deleted mid-conversion as a failure of its content
# ("[Errno 2] No such file or directory: '<path>'"); such a failure is converted again.
MISSING_INPUT_ERROR = "No such file or directory"
# A conversion whose files could not be read or written (the object store unreachable, a
# full disk) failed for the moment, not for its content: converted again like the above.
FILES_UNAVAILABLE_ERROR = (
    "The server could not reach this conversion's files for now; it will try again shortly"
)
RETRIED_ERRORS = (MISSING_INPUT_ERROR, FILES_UNAVAILABLE_ERROR)


def tried_again(error: str | None) -> bool:
    """Whether a failure with this message is converted again (its content is not at fault)."""
    return any(marker in (error or "") for marker in RETRIED_ERRORS)


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
        job = ConversionJob(key=key, step_sha256=sha256, status=JobStatus.PENDING, attempts=0)
        session.add(job)
    elif job.status == JobStatus.FAILED:
        # Re-uploading a file that failed is the user asking for another try (or tries).
        job.status, job.error, job.worker, job.attempts = JobStatus.PENDING, None, None, 0
    return job


def claim_job(session: Session, key: str, worker: str) -> bool:
    """Take a pending job for this worker; of several workers exactly one succeeds."""
    now = utcnow()
    claimed = session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key, ConversionJob.status == JobStatus.PENDING)
        .values(
            status=JobStatus.RUNNING,
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
            .where(ConversionJob.status == JobStatus.PENDING)
            .order_by(ConversionJob.created_at, ConversionJob.key)
            .limit(limit)
        ).scalars()
    )


def count_pending(session: Session) -> int:
    """How many jobs wait for a worker."""
    pending = select(func.count()).where(ConversionJob.status == JobStatus.PENDING)
    return int(session.scalar(pending) or 0)


def finish_job(session: Session, key: str, *, error: str | None, glb_size: int | None) -> None:
    """Record the outcome and copy it to every part waiting on this content."""
    status = JobStatus.FAILED if error else JobStatus.READY
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key)
        .values(status=status, error=error, glb_size=glb_size, finished_at=utcnow(), worker=None)
        .execution_options(synchronize_session=False)
    )
    _update_parts(
        session, key, model_status=PART_STATUS[status], model_error=error, updated_at=utcnow()
    )
    record_model_result(session, key, PART_STATUS[status], error)


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
    job, queued = _job_to_follow(session, key, part.file_sha256)
    status, error = PART_STATUS[job.status], job.error
    if not queued and (part.model_status, part.model_error) == (status, error):
        return False
    _update_parts(session, key, model_status=status, model_error=error, updated_at=utcnow())
    # The row already says so: keep the loaded part in step without a second UPDATE.
    set_committed_value(part, "model_status", status)
    set_committed_value(part, "model_error", error)
    return True


def _job_to_follow(session: Session, key: str, sha256: str | None) -> tuple[ConversionJob, bool]:
    """The job a part waits on, queued again (True) when it is gone or lost its input file."""
    job = session.get(ConversionJob, key)
    if job is None:
        return request_conversion(session, key, sha256 or key.split("-", 1)[0]), True
    if job.status == JobStatus.FAILED and tried_again(job.error):
        job.status, job.error, job.worker = JobStatus.PENDING, None, None
        return job, True
    return job, False


def requeue_job(session: Session, key: str) -> None:
    """Convert again (e.g. the GLB vanished from disk); parts show pending meanwhile. A new
    conversion, so its worker deaths count from 0 (as request_conversion's do)."""
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.key == key)
        .values(status=JobStatus.PENDING, error=None, worker=None, attempts=0)
        .execution_options(synchronize_session=False)
    )
    _update_parts(session, key, model_status=ModelStatus.PENDING, model_error=None)


def _update_parts(session: Session, key: str, **values: object) -> None:
    """Set the model state of every part showing this content's job."""
    write_parts(session, update(Part).where(Part.model_key == key).values(**values))


def touch_heartbeats(session: Session, worker: str, keys: Iterable[str]) -> None:
    """Say this worker is alive for the jobs it is converting right now (only those: a job
    whose result could not be recorded must go stale and be retried)."""
    keys = list(keys)
    if not keys:
        return
    session.execute(
        update(ConversionJob)
        .where(ConversionJob.worker == worker, ConversionJob.status == JobStatus.RUNNING)
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
    running = session.execute(
        select(ConversionJob).where(ConversionJob.status == JobStatus.RUNNING)
    )
    stale = [job for job in running.scalars() if _is_stale(job, cutoff, own_prefix)]
    count = 0
    for job in stale:
        if job.attempts >= MAX_ATTEMPTS:
            session.flush()
            error = WORKER_DIED_ERROR.format(attempts=job.attempts)
            finish_job(session, job.key, error=error, glb_size=None)
            session.expire(job)
        else:
            job.status, job.worker = JobStatus.PENDING, None
            count += 1
    return count


def _is_stale(job: ConversionJob, cutoff: datetime, own_prefix: str | None) -> bool:
    """The job's worker is gone: an old heartbeat, or a dead earlier process of this host."""
    if job.heartbeat_at is None or job.heartbeat_at < cutoff:
        return True
    return (
        own_prefix is not None
        and bool(job.worker)
        and job.worker.startswith(own_prefix)
        and not _alive(job.worker)
    )


def _alive(worker: str) -> bool:
    """Worker ids are host:pid:n. Our own pid counts as dead: recovery runs before this
    process claims anything, so such a job is an earlier process's (pid 1 in a container)."""
    try:
        pid = int(worker.split(":")[1])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and pid_alive(pid)
