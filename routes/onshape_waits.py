"""The request side of Onshape exports (for routes.onshape): queue one when needed, wait
briefly for it (like GET /model), then answer with the file, a 202 with Retry-After, or the
export's error."""

from __future__ import annotations

import math
import time
from datetime import timedelta

from flask import current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import write_transaction
from app.extensions import db
from models.onshape import get_connection
from models.onshape_export import (
    ExportStatus,
    OnshapeExport,
    find_export,
    request_export,
)
from models.onshape_link import parse_document_link
from models.part import Part
from models.queries import get_part_or_404
from models.types import utcnow
from utils.onshape_client import OnshapeSettings
from utils.onshape_errors import (
    BY_CODE,
    TRANSIENT_CODES,
    OnshapeError,
    OnshapeLinkError,
    OnshapeNotConnectedError,
    OnshapeRetryLaterError,
)

POLL_SECONDS = 0.25
RETRY_AFTER_SECONDS = 3
# A finished export this recent is the answer to a repeated ?refresh=true or import (the
# client polling after a 202), not a reason to ask Onshape again.
REPEAT_WINDOW = timedelta(seconds=30)


def require_document_link(part: Part) -> None:
    if parse_document_link(part.onshape_url) is None:
        raise OnshapeLinkError(
            "This part's onshapeUrl is not an Onshape document link",
            details="Set onshapeUrl to the Onshape tab's address (/documents/…/e/…)",
        )


def _recent(row: OnshapeExport) -> bool:
    return row.finished_at is not None and utcnow() - row.finished_at < REPEAT_WINDOW


def _needs_request(row: OnshapeExport | None, part: Part, again: bool) -> bool:
    """Queue an export? Not while one runs, not twice within REPEAT_WINDOW, not before an
    Onshape Retry-After has passed, and a permanent failure only when asked again."""
    if row is None:
        return True
    if row.busy:
        return False
    if row.status == ExportStatus.FAILED:
        if row.retry_at is not None and row.retry_at > utcnow():
            return False
        return again or row.error_code in TRANSIENT_CODES
    if again:
        return not _recent(row)
    return row.file_sha256 != part.file_sha256  # the file was replaced since


def ensure_export(session: Session, part: Part, kind: str, again: bool) -> None:
    """Queue (or join) the export when the rules above say so, and wake a worker."""
    exporter = current_app.extensions["onshape_exporter"]
    row = find_export(session, part.id, kind)
    if _needs_request(row, part, again):
        try:
            with write_transaction():
                request_export(session, part.id, kind)
        except IntegrityError:  # another request created the row first: join it
            session.rollback()
        exporter.notify()
    elif row is not None and row.busy:
        exporter.notify()  # the message may have been lost with a restart


def raise_failure(row: OnshapeExport) -> None:
    """The recorded failure as the error it was (a Retry-After counts down)."""
    error_class = BY_CODE.get(row.error_code or "", OnshapeError)
    message = row.error or "Onshape export failed"
    if issubclass(error_class, OnshapeRetryLaterError):
        wait = (row.retry_at - utcnow()).total_seconds() if row.retry_at else 1.0
        raise error_class(message, retry_after=max(wait, 1.0))
    if error_class is OnshapeNotConnectedError:
        raise OnshapeNotConnectedError(message)
    raise error_class(message)


def wait_for_export(session: Session, part_id: int, kind: str) -> OnshapeExport | None:
    """Re-read the row until it is no longer busy or ONSHAPE_WAIT_SECONDS pass; only with
    one of the MODEL_WAITERS_MAX turns GET /model uses (a waiting request holds a thread)."""
    exporter = current_app.extensions["onshape_exporter"]
    deadline = time.monotonic() + float(current_app.config["ONSHAPE_WAIT_SECONDS"])
    row = find_export(session, part_id, kind)
    if row is None or not row.busy or time.monotonic() >= deadline:
        return row
    with current_app.extensions["conversion_runner"].wait_turn() as granted:
        while granted and row is not None and row.busy and time.monotonic() < deadline:
            exporter.wait_for_finish(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
            session.rollback()  # a new transaction: see another worker's commit
            row = find_export(session, part_id, kind)
    return row


def pending_response(kind: str) -> ResponseReturnValue:
    wait = float(current_app.config["ONSHAPE_WAIT_SECONDS"])
    what = "drawing" if kind == "drawing" else "STEP model"
    response = jsonify(
        {"status": ExportStatus.PENDING.value, "message": f"Onshape is exporting the {what}"}
    )
    response.status_code = 202
    response.headers["Retry-After"] = str(max(1, math.ceil(min(wait, RETRY_AFTER_SECONDS))))
    return response


def export_and_wait(part_id: int, kind: str, again: bool) -> tuple[Part, OnshapeExport | None]:
    """Queue the export if needed, wait briefly; the part re-read and its export row."""
    session = db.session
    part = get_part_or_404(session, part_id)
    require_document_link(part)
    settings = OnshapeSettings.from_config(current_app.config)
    if get_connection(session) is None and not settings.has_static_keys:
        raise OnshapeNotConnectedError()
    ensure_export(session, part, kind, again)
    row = wait_for_export(session, part_id, kind)
    part = get_part_or_404(session, part_id)
    if row is not None and row.status == ExportStatus.FAILED:
        raise_failure(row)
    return part, row
