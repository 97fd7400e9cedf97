"""The Onshape export runner: pending rows of `onshape_exports` become the part's file.

Like the conversion runner (utils.jobs), the Huey message "onshape_export" only says "an
export is waiting"; the row says what to do, so a lost message costs nothing (the next request
for the drawing or import sends another). The work: ask for the microversion (unchanged since
the file we hold: nothing more is sent), start the translation, poll it, download the result
and attach it exactly like an upload (utils.part_files), which queues the STEP conversion.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.datastructures import FileStorage

from models.base import db
from models.events import record_onshape_export
from models.onshape_export import (
    ExportKind,
    OnshapeExport,
    claim_export,
    fail_export,
    finish_export,
    pending_export_ids,
)
from models.onshape_link import DocumentLink, parse_document_link
from models.part import Part
from models.types import utcnow
from utils.errors import ApiError, NotFoundError
from utils.onshape_client import OnshapeClient, OnshapeSettings
from utils.onshape_credentials import StoredCredentials, Transaction
from utils.onshape_errors import (
    OnshapeLinkError,
    OnshapeRetryLaterError,
    OnshapeUnavailableError,
)
from utils.onshape_tokens import TokenCipher
from utils.part_files import UploadRules, attach_upload, current_path, finish_replacement

log = logging.getLogger("aerie.onshape")
FILE_NAMES = {ExportKind.DRAWING: "{name} drawing.pdf", ExportKind.STEP: "{name}.step"}


class OnshapeExporter:
    """Runs exports on the task queue's consumer threads (wherever the app is built)."""

    def __init__(self, app: Flask, transaction: Transaction) -> None:
        self.app = app
        self.transaction = transaction
        self.queue = app.extensions["task_queue"]
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._task = self.queue.task(name="onshape_export")(self._run_pending)
        self._finished = threading.Condition()

    def notify(self) -> None:
        """An export was queued: send the wake-up (a few at most wait in the queue)."""
        try:
            if self.queue.pending_count() < 4:
                self._task()
        except Exception:  # noqa: BLE001 - the row is committed; the next request re-sends
            log.warning("could not queue an Onshape export", exc_info=True)

    def wait_for_finish(self, timeout: float) -> None:
        with self._finished:
            self._finished.wait(timeout)

    def _run_pending(self) -> None:
        while self.run_one():
            pass

    def run_one(self) -> bool:
        """Claim and run one waiting export; False when there was none."""
        with self.app.app_context():
            ids = pending_export_ids(db.session)
            db.session.rollback()
            for export_id in ids:
                with self.transaction():
                    claimed = claim_export(db.session, export_id, self.worker_id)
                if claimed:
                    try:
                        self._run(export_id)
                    finally:
                        db.session.rollback()
                        with self._finished:
                            self._finished.notify_all()
                    return True
            return False

    def _run(self, export_id: int) -> None:
        row = db.session.get(OnshapeExport, export_id)
        part = db.session.get(Part, row.part_id) if row else None
        if row is None or part is None:
            with self.transaction():
                db.session.query(OnshapeExport).filter_by(id=export_id).delete()
            return
        link_text, kind = part.onshape_url or "", row.kind
        try:
            self._export(row, part, link_text, kind)
        except ApiError as exc:
            self._record_failure(export_id, exc)
            log.info("Onshape %s export of part %s failed: %s", kind, part.id, exc.code)
        except Exception:  # an answer Onshape should not send: fail it, never leave it running
            log.exception("Onshape %s export of part %s: unexpected answer", kind, part.id)
            unreadable = OnshapeUnavailableError(
                "Onshape sent an answer the server could not read", retry_after=60
            )
            self._record_failure(export_id, unreadable)

    def _export(self, row: OnshapeExport, part: Part, link_text: str, kind: str) -> None:
        link = parse_document_link(link_text)
        if link is None:
            raise OnshapeLinkError("This part's onshapeUrl is not an Onshape document link")
        client = self._client()
        microversion = client.microversion(link)
        if self._unchanged(row, part, link_text, microversion):
            self._record_done(row.id, link_text, microversion, row.file_sha256)
            log.info("Onshape %s of part %s unchanged: nothing exported", kind, part.id)
            return
        name = FILE_NAMES[ExportKind(kind)].format(name=part.name or part.part_id)
        data = self._translate(client, link, kind, name)
        self._attach(row.id, part.id, data, name, link_text, microversion)

    def _client(self) -> OnshapeClient:
        settings = OnshapeSettings.from_config(self.app.config)
        cipher = TokenCipher(str(self.app.config["SECRET_KEY"]))
        return OnshapeClient(
            settings, StoredCredentials(db.session, settings, cipher, self.transaction)
        )

    def _unchanged(self, row: OnshapeExport, part: Part, link: str, microversion: str) -> bool:
        """The part still holds what this link's microversion exported: nothing to do."""
        store = self.app.extensions["storage"]
        path = current_path(store, part)
        return bool(
            microversion
            and row.microversion == microversion
            and row.link == link
            and row.file_sha256
            and row.file_sha256 == part.file_sha256
            and path is not None
            and store.has(path)
        )

    def _translate(self, client: OnshapeClient, link: DocumentLink, kind: str, name: str) -> Any:
        db.session.rollback()  # hold no transaction while Onshape works
        translation = client.start_translation(link, kind, name)
        data_id = client.wait_for_translation(translation)
        limit = int(self.app.config["UPLOAD_MAX_BYTES"])
        return client.download(link.document_id, data_id, limit)

    def _attach(
        self, export_id: int, part_id: int, data: Any, name: str, link: str, microversion: str
    ) -> None:
        """Store the file exactly like an upload (same checks, cache and model status)."""
        rules = UploadRules.of(self.app)
        with data, self.transaction():
            try:  # locked, as an upload is: a concurrent edit or DELETE waits for this one
                part = Part.for_update(db.session, part_id)
            except NotFoundError:
                return
            upload = FileStorage(stream=data, filename=name)
            replaced = attach_upload(db.session, part, upload, rules)
            row = db.session.get(OnshapeExport, export_id)
            finish_export(row, link=link, microversion=microversion, file_sha256=part.file_sha256)
            details = {"kind": row.kind, "status": "done", "link": link, "file": part.file}
            record_onshape_export(db.session, part_id, details)
            part_uuid = part.uuid
        finish_replacement(db.session, rules.store, part_uuid, replaced)
        self.app.extensions["conversion_runner_notify"]()
        log.info("Onshape export stored for part %s", part_id)

    def _record_done(self, export_id: int, link: str, micro: str, sha: str | None) -> None:
        with self.transaction():
            row = db.session.get(OnshapeExport, export_id)
            finish_export(row, link=link, microversion=micro, file_sha256=sha)

    def _record_failure(self, export_id: int, exc: ApiError) -> None:
        db.session.rollback()
        retry_at = None
        if isinstance(exc, OnshapeRetryLaterError):
            retry_at = utcnow() + timedelta(seconds=exc.retry_after)
        details = exc.extra.get("details")
        message = f"{exc.message}: {details}" if details else exc.message
        with self.transaction():
            row = db.session.get(OnshapeExport, export_id)
            if row is not None:
                fail_export(row, exc.code, message[:1000], retry_at)
                details = {"kind": row.kind, "status": "failed", "error": exc.code}
                record_onshape_export(db.session, row.part_id, details)
