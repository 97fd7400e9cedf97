"""The conversion runner: pending STEP files become GLB models, off the request path.

Jobs are rows in `conversion_jobs` (models.conversion): they survive restarts, and several
processes never run the same one. Huey (utils.tasks) only carries the wake-up "a conversion is
waiting" and runs it on a consumer thread: in each server process (embedded mode) or in
`flask worker` processes (TASK_QUEUE_URL=redis://...). Each conversion happens in a child
process (utils.step_converter), so a crash or runaway inside OpenCASCADE only fails that job.
A thread converts only while it holds one of CONVERSION_WORKERS slot locks under
UPLOAD_FOLDER, so all processes on a host together run at most that many children.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from models import conversion
from models.base import db, write_transaction
from utils import conversion_source, tasks
from utils.conversion_capacity import warn_if_memory_overcommitted, worker_count
from utils.host_locks import try_lock, unlock
from utils.part_files import remove_unused_model
from utils.part_models import repair_model_states
from utils.service_errors import committed_despite_busy
from utils.settings_values import ConfigError

log = logging.getLogger("aerie.jobs")
HEARTBEAT_SECONDS = 10.0
# The repair of stuck model states scans parts and stats GLB files: every third beat (and the
# first), not on every one.
REPAIR_EVERY_BEATS = 3
# JOB_STALE_SECONDS may not be shorter than this many heartbeats: a live worker whose beat
# runs late (a slow database, a busy host) must not lose its job to another.
MIN_STALE_BEATS = 3
# How often a consumer checks the table for pending jobs that no queued message covers.
IDLE_POLL_SECONDS = 2.0


class ConversionRunner:
    """Converts pending jobs on the task queue's consumer threads, plus a heartbeat thread.

    notify() sends "a conversion is waiting"; a consumer thread takes it and converts pending
    jobs until none is left. start() makes this process a consumer: a server in embedded mode
    (app.startup.start_background), a `flask worker` in shared mode (run_worker).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.host_prefix = f"{socket.gethostname()}:"
        self.worker_id = f"{self.host_prefix}{os.getpid()}"
        # Conversions at once on this host, over every process sharing UPLOAD_FOLDER.
        self.slots = worker_count(int(app.config["CONVERSION_WORKERS"]))
        self.stale_after = stale_after(app.config["JOB_STALE_SECONDS"])
        self.queue = app.extensions["task_queue"]
        # The task's name is its wire name: servers and workers must register the same one.
        self._convert_task = self.queue.task(name="convert_pending")(self._convert_pending)
        self._stop = threading.Event()
        self._beats = 0  # heartbeats so far: the model repair runs on some of them
        # The jobs this process is converting now: only these get heartbeats.
        self._in_progress: set[str] = set()
        self._in_progress_lock = threading.Lock()
        # Requests waiting for a model (GET /model) sleep on this until a job finishes here.
        self._finished = threading.Condition()
        # How many of them may: a waiting request holds a server thread.
        self._waiters = threading.BoundedSemaphore(max(0, int(app.config["MODEL_WAITERS_MAX"])))
        self._threads: list[threading.Thread] = []
        self._consumer: Any = None

    def start(self) -> None:
        """Consume conversions on threads of this process (a server in embedded mode)."""
        if self._threads:  # already running: a second set of threads would only poll
            return
        self._begin(embedded=True)
        self._consumer.start()

    def run_worker(self) -> None:
        """Be a `flask worker` until a signal: SIGINT lets running conversions finish, SIGTERM
        stops at once (their children die with us; the next worker on this host resumes the
        jobs at its start, one elsewhere after JOB_STALE_SECONDS). Huey's loop runs in the main
        thread: it owns the signals and restarts dead threads."""
        self._begin(embedded=False)
        try:
            self._consumer.run()
        finally:
            self.stop()

    def _begin(self, *, embedded: bool) -> None:
        """Recover what a dead process on this host left running, build a consumer of
        `slots` threads, start the heartbeat and send the wake-ups pending jobs need."""
        self.recover()
        warn_if_memory_overcommitted(self.slots, int(self.app.config["CONVERSION_MEMORY_MB"]))
        # As many threads as host slots: another process may hold some, we may get them all.
        self._consumer = tasks.consumer(self.queue, self.slots, embedded=embedded)
        self._spawn(self._heartbeat, "convert-heartbeat")
        self.top_up()

    def recover(self) -> int:
        """Put back in the queue what a dead process on this host left running; how many.
        A write transaction: a server's workers start together, and a deferred one that read
        first failed at once on SQLite ("database is locked") when another worker wrote in
        between, failing the worker's boot, and gunicorn then stopped the whole server."""
        with self.app.app_context(), write_transaction(db.session) as session:
            recovered = conversion.recover_stale_jobs(session, self.stale_after, self.host_prefix)
        if recovered:
            log.info("re-queued %d conversions left unfinished by a stopped process", recovered)
        return recovered

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def notify(self) -> None:
        """A job was queued: send the wake-up a consumer (here or in a worker) acts on."""
        try:
            # One wake-up drains every pending job: more than one per slot would only pile
            # up (for ever where nothing consumes, e.g. CONVERSION_IN_BACKGROUND off).
            if self.queue.pending_count() < self.slots:
                self._convert_task()
        except Exception:  # noqa: BLE001 - the job is committed; a consumer's sweep finds it
            log.warning("could not queue a conversion; a worker will find it", exc_info=True)

    @contextmanager
    def wait_turn(self) -> Iterator[bool]:
        """A turn to wait for a model: False when MODEL_WAITERS_MAX requests already wait."""
        granted = self._waiters.acquire(blocking=False)
        try:
            yield granted
        finally:
            if granted:
                self._waiters.release()

    def wait_for_finish(self, timeout: float) -> None:
        """Sleep until a conversion in this process finishes, or `timeout` seconds (a
        conversion in a worker process is seen by the caller's next read of the table)."""
        with self._finished:
            self._finished.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._consumer is not None:
            tasks.stop_consumer(self._consumer, timeout)
        for thread in self._threads:
            thread.join(timeout)

    def _convert_pending(self) -> None:
        """The task: convert pending jobs until none is left, no slot is free, or we stop."""
        while not self._stopping() and self.run_one():
            pass

    def _stopping(self) -> bool:
        return self._stop.is_set() or (
            self._consumer is not None and self._consumer.stop_flag.is_set()
        )

    def _heartbeat(self) -> None:
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while not self._stop.wait(IDLE_POLL_SECONDS):
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                    self.beat()
                self.top_up()
            except Exception:  # noqa: BLE001 - retried at the next beat
                log.exception("heartbeat failed")

    def top_up(self) -> int:
        """Queue a wake-up for pending jobs that no queued message covers (lost with a
        restart, a kill -9, or sent while no slot was free); returns how many were sent."""

        with self.app.app_context():
            pending = conversion.count_pending(db.session)
            db.session.rollback()
        missing = min(pending, self.slots) - self.queue.pending_count()
        for _ in range(missing):
            self.notify()
        return max(missing, 0)

    def beat(self) -> int:
        """Keep our running jobs alive; re-queue any job whose heartbeat stopped (its worker
        died, or its result could not be recorded). Returns how many were re-queued."""

        with self._in_progress_lock:
            converting = set(self._in_progress)
        with self.app.app_context():
            with write_transaction(db.session) as session:  # reads, then may update: as recover()
                conversion.touch_heartbeats(session, self.worker_id, converting)
                recovered = conversion.recover_stale_jobs(session, self.stale_after)
            recovered += self._repair_models()
        if recovered:
            self.notify()
        return recovered

    def _repair_models(self) -> int:
        """What GET /model only reports (it never writes): stuck parts reconciled with their
        jobs, a ready model whose GLB vanished converted again. Every REPAIR_EVERY_BEATS."""

        self._beats += 1
        if self._beats % REPAIR_EVERY_BEATS != 1:
            return 0
        store = self.app.extensions["storage"]
        return repair_model_states(db.session, store, lambda: write_transaction(db.session))

    def run_one(self) -> bool:
        """Claim and convert one pending job; False when there was none, or when every
        conversion slot of this host is taken (by this or another process)."""
        slot = self._take_slot()
        if slot is None:
            return False
        try:
            with self.app.app_context():
                key = self._claim_next()
                if key is None:
                    return False
                with self._in_progress_lock:
                    self._in_progress.add(key)
                try:
                    self._convert(key)
                finally:
                    with self._in_progress_lock:
                        self._in_progress.discard(key)
                return True
        finally:
            unlock(*slot)

    def _take_slot(self) -> tuple[Path, int] | None:
        # Taken before claiming, so a job is never claimed by a thread that cannot start it.
        storage = self.app.extensions["storage"]
        for index in range(self.slots):
            path = storage.lock_path(f"convert-slot-{index}")
            fd = try_lock(path)
            if fd is not None:
                return path, fd
        return None

    def _claim_next(self) -> str | None:

        keys = conversion.pending_keys(db.session)
        # End the read first: SQLite cannot turn a read transaction into a write once
        # another writer (an upload, the other worker) has committed; it fails at once
        # with "database is locked" instead of waiting out its busy timeout.
        db.session.rollback()
        for key in keys:
            if conversion.claim_job(db.session, key, self.worker_id):
                db.session.commit()
                return key
            db.session.rollback()
        return None

    def _convert(self, key: str) -> None:

        # Twice at most: a part pointing at the job may have committed after the file search.
        for _ in range(2):
            error, size = conversion_source.attempt_conversion(self.app, key)
            if error != conversion_source.SOURCE_GONE:
                break
            if self._drop(key):
                return
        db.session.rollback()
        finish = {"error": error, "glb_size": size}
        committed_despite_busy(db.session, conversion.finish_job, db.session, key, **finish)
        self._announce_finish()
        # Deleted or replaced while converting: nobody will ever ask for this GLB.
        remove_unused_model(db.session, self.app.extensions["storage"], key)
        db.session.rollback()
        log.info("conversion %s %s", key, "failed: " + error if error else "ready")

    def _drop(self, key: str) -> bool:
        """Delete the job when no part points at it: a missing file says nothing about the
        content, so nothing is recorded and a later upload of it starts afresh."""

        db.session.rollback()
        dropped = conversion.drop_job(db.session, key)
        db.session.commit()
        if dropped:
            self._announce_finish()
            log.info("conversion %s dropped: no part holds this file any more", key)
        return dropped

    def _announce_finish(self) -> None:
        with self._finished:
            self._finished.notify_all()


def stale_after(seconds: Any) -> timedelta:
    """JOB_STALE_SECONDS as a timedelta, refused below MIN_STALE_BEATS heartbeats."""
    least = MIN_STALE_BEATS * HEARTBEAT_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < least:
        raise ConfigError(f"JOB_STALE_SECONDS must be a number of seconds, at least {least:g}")
    return timedelta(seconds=seconds)
