"""What happens to a part's files: attach an upload, queue its model, previews, clean-up."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models.conversion import PART_STATUS, PENDING, READY, request_conversion
from models.part import Part
from models.states import ModelStatus
from utils.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from utils.fields import sanitise_display_name
from utils.step_converter import looks_like_step
from utils.storage import FileTooLargeError, Storage, WrongContentError, looks_like_pdf

log = logging.getLogger("aerie.files")
STEP_EXTENSIONS = frozenset({"step", "stp"})
MIME_TYPES = {"step": "application/step", "stp": "application/step", "pdf": "application/pdf"}
VIEW_SLOTS = range(8)


@dataclass(frozen=True)
class Replaced:
    """What an upload displaced, to be removed once the new row is committed."""

    old_path: Path | None
    views_invalidated: bool
    old_model_key: str | None = None


def storage() -> Storage:
    return current_app.extensions["storage"]


def _extension(filename: str) -> str:
    allowed = [ext.lower() for ext in current_app.config["ALLOWED_EXTENSIONS"]]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in allowed:
        raise UnsupportedMediaTypeError(
            "Invalid file type", details=f"Only {', '.join(allowed)} files are allowed"
        )
    return ext


def _content_check(ext: str):
    return looks_like_step if ext in STEP_EXTENSIONS else looks_like_pdf if ext == "pdf" else None


def attach_upload(session: Session, part: Part, upload: FileStorage | None) -> Replaced:
    """Store the upload under the part and point the part at it (not yet committed)."""
    if upload is None:
        raise BadRequestError("No file provided")
    display = sanitise_display_name(upload.filename or "")
    if not display:
        raise BadRequestError("No file selected")
    ext = _extension(display)
    files = storage()
    try:
        stored = files.save_stream(
            upload.stream,
            files.part_dir(part.uuid),
            ext,
            max_bytes=int(current_app.config["UPLOAD_MAX_BYTES"]),
            check_head=_content_check(ext),
        )
    except WrongContentError as exc:
        kind = "STEP (ISO-10303-21)" if ext in STEP_EXTENSIONS else ext.upper()
        raise UnsupportedMediaTypeError(f"The file is not a valid {kind} file") from exc
    except FileTooLargeError as exc:
        raise PayloadTooLargeError(str(exc)) from exc
    old_path, old_model_key = current_path(part), part.model_key
    # Any new content (a PDF too) retires the previews of the old model.
    content_changed = stored.sha256 != part.file_sha256
    part.file, part.file_sha256, part.file_size, part.file_ext = (
        display,
        stored.sha256,
        stored.size,
        ext,
    )
    _point_at_model(session, part, stored.sha256 if ext in STEP_EXTENSIONS else None)
    invalidated = content_changed and drop_views_manifest(part)
    return Replaced(
        old_path if old_path != stored.path else None,
        invalidated,
        old_model_key if old_model_key != part.model_key else None,
    )


def _point_at_model(session: Session, part: Part, sha256: str | None) -> None:
    if sha256 is None:
        part.model_key, part.model_status, part.model_error = None, ModelStatus.NONE, None
        return
    key = model_key_for(sha256)
    job = request_conversion(session, key, sha256)
    if job.status == READY and not storage().model_path(key).is_file():
        job.status = PENDING  # the cached GLB vanished: convert again
    part.model_key, part.model_status, part.model_error = key, PART_STATUS[job.status], job.error


def model_key_for(sha256: str) -> str:
    """Content hash plus a digest of the settings and cascadio version: equal key, equal GLB."""
    settings = current_app.extensions["conversion_settings"].cache_key()
    return f"{sha256}-{hashlib.sha256(settings.encode()).hexdigest()[:16]}"


def drop_views_manifest(part: Part) -> bool:
    """Previews show the old model once the STEP changes: forget them."""
    info = dict(part.misc_info or {})
    had = info.pop("views", None) is not None
    part.misc_info = info or None
    return had


def finish_replacement(session: Session, part: Part, replaced: Replaced) -> None:
    """After commit: remove what the new upload displaced (its model too, if unshared)."""
    if replaced.old_path is not None:
        replaced.old_path.unlink(missing_ok=True)
    if replaced.views_invalidated:
        storage().remove_views(part.uuid)
    if replaced.old_model_key:
        remove_unused_model(session, replaced.old_model_key)


def current_path(part: Part) -> Path | None:
    if not (part.file_sha256 and part.file_ext):
        return None
    return storage().file_path(part.uuid, part.file_sha256, part.file_ext)


def stored_file(part: Part) -> tuple[Path, str]:
    """The part's upload on disk and its MIME type, or the API's 404."""
    if not part.file:
        raise NotFoundError("No file associated with this part")
    path = current_path(part)
    if path is None or not path.is_file():
        raise NotFoundError("File not found on server")
    return path, MIME_TYPES.get(part.file_ext or "", "application/octet-stream")


def upload_summary(part: Part) -> dict[str, Any]:
    """Today's upload response keys, without any server path."""
    body: dict[str, Any] = {
        "message": "File uploaded successfully",
        "filename": part.file,
        "file_size": part.file_size,
        "sha256": part.file_sha256,
    }
    if part.file_ext in STEP_EXTENSIONS:
        body["conversion"] = {
            "status": part.model_status,
            "success": {ModelStatus.READY: True, ModelStatus.FAILED: False}.get(part.model_status),
            "error": part.model_error,
        }
    return body


def remove_part_files(session: Session, part_uuid: str, model_key: str | None) -> None:
    """After a delete is committed: the part's folder, and its model if nobody shares it."""
    storage().remove_part(part_uuid)
    if model_key:
        remove_unused_model(session, model_key)


def remove_unused_model(session: Session, model_key: str) -> None:
    """Delete a GLB no part points at any more."""
    if not session.execute(select(Part.id).where(Part.model_key == model_key).limit(1)).first():
        # The job row stays as history; a later upload of the same content sees the GLB
        # missing and converts again.
        storage().model_path(model_key).unlink(missing_ok=True)
