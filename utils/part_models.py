"""The model behind GET /model: its state, a short wait for a pending conversion, the repair.

The view (routes.files) shapes the answer; GET only reads. A model state that cannot move on
by itself (a job gone, a failure for a missing input, a part that missed its job's outcome, a
GLB vanished from disk) is answered as pending and repaired by the conversion runner with
`repair_model_states`, in its own write transaction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.conversion import (
    FAILED,
    PART_STATUS,
    ConversionJob,
    reconcile_part,
    requeue_job,
    tried_again,
)
from models.part import Part
from models.queries import get_part_or_404
from models.states import ModelStatus
from utils.errors import NotFoundError, UnprocessableError
from utils.part_files import STEP_EXTENSIONS
from utils.storage import Storage

POLL_SECONDS = 0.25
# Longest Retry-After we suggest: a small model is ready within a few seconds.
RETRY_AFTER_MAX_SECONDS = 5.0


class ModelState(NamedTuple):
    """A part's model as the runner's repair will leave it (read without writing)."""

    status: str
    error: str | None
    needs_repair: bool


def model_state(session: Session, part: Part) -> ModelState:
    """The part's own state, or its job's when the part missed the outcome or is stuck."""
    if part.model_status not in (ModelStatus.PENDING, ModelStatus.FAILED):
        return ModelState(part.model_status, part.model_error, False)
    job = session.get(ConversionJob, part.model_key)
    if job is None or (job.status == FAILED and tried_again(job.error)):
        return ModelState(ModelStatus.PENDING, None, True)  # to be queued again
    status, error = PART_STATUS[job.status], job.error
    return ModelState(status, error, (status, error) != (part.model_status, part.model_error))


def repair_model_states(
    session: Session, store: Storage, transaction: Callable[[], AbstractContextManager[object]]
) -> int:
    """The write side of GET /model, for the conversion runner: reconcile stuck pending or
    failed parts with their jobs, and convert again a ready model whose GLB is gone. Returns
    how many models changed. Writes run in `transaction()` (the caller's write transaction,
    committed when it ends); the store is asked outside it, once, for every model it holds:
    on an object store a file check is a request, and one per model held the database's
    write lock (all of it, on SQLite) for minutes at 10k models."""
    with transaction():
        repaired = _reconcile_stuck(session)
    # The ready keys first, then the listing: a model marked ready was stored before.
    ready = session.scalars(
        select(Part.model_key).where(Part.model_status == ModelStatus.READY).distinct()
    ).all()
    session.rollback()
    if not ready:
        return repaired
    held = set(store.stored_files("models"))
    gone = [key for key in ready if key and _stored_name(store, key) not in held]
    if gone:
        with transaction():
            for key in gone:
                requeue_job(session, key)
    return repaired + len(gone)


def _reconcile_stuck(session: Session) -> int:
    stuck = session.scalars(
        select(Part).where(
            Part.model_key.is_not(None),
            Part.model_status.in_((ModelStatus.PENDING, ModelStatus.FAILED)),
        )
    )
    repaired, seen = 0, set()
    for part in list(stuck):
        if part.model_key not in seen:
            seen.add(part.model_key)
            repaired += reconcile_part(session, part)
    return repaired


def _stored_name(store: Storage, key: str) -> str:
    """A model's name as Storage.stored_files gives it (relative to the root, with /)."""
    return store.model_path(key).relative_to(store.root).as_posix()


class ModelRunner(Protocol):
    """What GET /model needs of the conversion runner (utils.jobs.ConversionRunner)."""

    def notify(self) -> None: ...

    def wait_turn(self) -> AbstractContextManager[bool]: ...

    def wait_for_finish(self, timeout: float) -> None: ...


def _wait_while_pending(
    session: Session, part: Part, runner: ModelRunner, deadline: float
) -> ModelState:
    """Re-read until the model leaves pending or the deadline passes. A job that finishes in
    this process wakes the wait at once; one in another worker is seen within POLL_SECONDS."""
    state = model_state(session, part)
    while state.status == ModelStatus.PENDING and time.monotonic() < deadline:
        runner.wait_for_finish(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        # A new transaction each time: MariaDB's repeatable read would show the old row.
        session.rollback()
        part = get_part_or_404(session, part.id)
        state = model_state(session, part)
    return state


def _state_after_wait(session: Session, part: Part, runner: ModelRunner, wait: float) -> ModelState:
    """Wait for a pending model only with one of the MODEL_WAITERS_MAX turns: each waiting
    request holds a server thread, and /health and the rest must still get one."""
    state = model_state(session, part)
    if state.status != ModelStatus.PENDING or wait <= 0:
        return state
    with runner.wait_turn() as granted:
        if not granted:
            return state
        return _wait_while_pending(session, part, runner, time.monotonic() + wait)


def ready_model(
    session: Session, part: Part, runner: ModelRunner, store: Storage, wait: float
) -> Path | None:
    """The part's GLB, or None while it is still pending after waiting up to `wait` seconds.

    NotFoundError without a STEP file, UnprocessableError when the conversion failed. A
    state that needs repair (or a GLB gone from disk) is left to the runner, which is woken.
    """
    if part.file_ext not in STEP_EXTENSIONS or not part.model_key:
        raise NotFoundError("This part has no STEP file to show in 3D")
    if model_state(session, part).needs_repair:
        runner.notify()  # the runner repairs it
    state = _state_after_wait(session, part, runner, wait)
    if state.status == ModelStatus.FAILED:
        raise UnprocessableError("Model conversion failed", details=state.error)
    path = store.model_path(part.model_key)
    if state.status == ModelStatus.READY and store.has(path):
        return path
    if state.status == ModelStatus.READY:
        runner.notify()  # the GLB vanished
    return None


def retry_after_seconds(wait: float) -> int:
    """The Retry-After a pending answer suggests: the wait, capped, in whole seconds."""
    return max(1, math.ceil(min(wait, RETRY_AFTER_MAX_SECONDS)))
