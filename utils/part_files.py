"""What happens to a part's files: attach an upload, queue its model, previews, clean-up.

No Flask globals: the caller hands over the storage and the upload rules (UploadRules).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models.base import write_transaction
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
from utils.storage import (
    FileStoreUnavailableError,
    FileTooLargeError,
    Storage,
    StoredFile,
    WrongContentError,
    looks_like_pdf,
)

log = logging.getLogger("aerie.files")
STEP_EXTENSIONS = frozenset({"step", "stp"})
MIME_TYPES = {"step": "application/step", "stp": "application/step", "pdf": "application/pdf"}
VIEW_SLOTS = range(8)
VIEW_SLOT_NAMES = frozenset(str(slot) for slot in VIEW_SLOTS)  # the manifest's keys


@dataclass(frozen=True)
class Replaced:
    """What an upload displaced, to be removed once the new row is committed."""

    old_path: Path | None
    views_invalidated: bool
    old_model_key: str | None = None


class StoredUpload(NamedTuple):
    """An upload written to disk: its display name, extension and stored file."""

    display: str
    ext: str
    stored: StoredFile


@dataclass(frozen=True)
class UploadRules:
    """Where an upload goes and what it may be; the caller reads them from the settings."""

    store: Storage
    allowed_extensions: tuple[str, ...]
    max_bytes: int
    conversion_settings: str  # ConversionSettings.cache_key(): part of every model key

    @classmethod
    def of(cls, app: Flask) -> UploadRules:
        """The rules of an app: its storage, ALLOWED_EXTENSIONS and UPLOAD_MAX_BYTES."""
        return cls(
            store=app.extensions["storage"],
            allowed_extensions=tuple(app.config["ALLOWED_EXTENSIONS"]),
            max_bytes=int(app.config["UPLOAD_MAX_BYTES"]),
            conversion_settings=app.extensions["conversion_settings"].cache_key(),
        )


def _extension(filename: str, allowed_extensions: tuple[str, ...]) -> str:
    allowed = [ext.lower() for ext in allowed_extensions]
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in allowed:
        raise UnsupportedMediaTypeError(
            "Invalid file type", details=f"Only {', '.join(allowed)} files are allowed"
        )
    return ext


def _content_check(ext: str):
    return looks_like_step if ext in STEP_EXTENSIONS else looks_like_pdf if ext == "pdf" else None


def _store_upload(part: Part, upload: FileStorage | None, rules: UploadRules) -> StoredUpload:
    """Validate the upload's name and content and write it under the part's folder."""
    if upload is None:
        raise BadRequestError("No file provided")
    display = sanitise_display_name(upload.filename or "")
    if not display:
        raise BadRequestError("No file selected")
    ext = _extension(display, rules.allowed_extensions)
    folder = rules.store.part_dir(part.uuid)
    try:
        stored = rules.store.save_stream(
            upload.stream, folder, ext, max_bytes=rules.max_bytes, check_head=_content_check(ext)
        )
    except WrongContentError as exc:
        kind = "STEP (ISO-10303-21)" if ext in STEP_EXTENSIONS else ext.upper()
        raise UnsupportedMediaTypeError(f"The file is not a valid {kind} file") from exc
    except FileTooLargeError as exc:
        raise PayloadTooLargeError(str(exc)) from exc
    return StoredUpload(display, ext, stored)


def attach_upload(
    session: Session, part: Part, upload: FileStorage | None, rules: UploadRules
) -> Replaced:
    """Store the upload under the part and point the part at it (not yet committed)."""
    display, ext, stored = _store_upload(part, upload, rules)
    old_path, old_model_key = current_path(rules.store, part), part.model_key
    # Any new content (a PDF too) retires the previews of the old model.
    content_changed = stored.sha256 != part.file_sha256
    part.file, part.file_sha256, part.file_size = display, stored.sha256, stored.size
    part.file_ext = ext
    key = model_key_for(stored.sha256, rules.conversion_settings)
    _point_at_model(session, rules.store, part, key if ext in STEP_EXTENSIONS else None)
    invalidated = content_changed and drop_views_manifest(part)
    return Replaced(
        old_path if old_path != stored.path else None,
        invalidated,
        old_model_key if old_model_key != part.model_key else None,
    )


def _point_at_model(session: Session, store: Storage, part: Part, key: str | None) -> None:
    if key is None:
        part.model_key, part.model_status, part.model_error = None, ModelStatus.NONE, None
        return
    job = request_conversion(session, key, part.file_sha256 or key.split("-", 1)[0])
    if job.status == READY and not store.has(store.model_path(key)):
        job.status = PENDING  # the cached GLB vanished: convert again
    part.model_key, part.model_status, part.model_error = key, PART_STATUS[job.status], job.error


def model_key_for(sha256: str, conversion_settings: str) -> str:
    """Content hash plus a digest of the settings and cascadio version: equal key, equal GLB."""
    return f"{sha256}-{hashlib.sha256(conversion_settings.encode()).hexdigest()[:16]}"


def drop_views_manifest(part: Part) -> bool:
    """Previews show the old model once the STEP changes: forget them."""
    info = dict(part.misc_info or {})
    had = info.pop("views", None) is not None
    part.misc_info = info or None
    return had


def finish_replacement(
    session: Session, store: Storage, part_uuid: str, replaced: Replaced
) -> None:
    """After commit: remove what the new upload displaced (its model too, if unshared).

    Takes the uuid read inside the transaction: the part may be deleted by now."""
    with _left_for_cleanup(part_uuid):
        if replaced.old_path is not None:
            store.remove_file(replaced.old_path)
        if replaced.views_invalidated:
            _remove_displaced_views(session, store, part_uuid)
        if replaced.old_model_key:
            remove_unused_model(session, store, replaced.old_model_key)


def _remove_displaced_views(session: Session, store: Storage, part_uuid: str) -> None:
    """The previews of the replaced file, under the part's row lock as previews are written:
    those POSTed since the upload committed (of the new file, in the manifest) stay. Removed
    without the lock, a concurrent POST's files went while its manifest named them, or its
    write failed (a 500)."""
    with write_transaction(session):
        locked = select(Part).where(Part.uuid == part_uuid).with_for_update()
        part = session.execute(locked).scalar_one_or_none()
        manifest = (part.misc_info or {}).get("views") if part is not None else None
        entries = manifest.get("files") if isinstance(manifest, dict) else None
        kept = [int(slot) for slot in entries if slot in VIEW_SLOT_NAMES] if entries else []
        store.remove_views(part_uuid, keep=kept)


@contextmanager
def _left_for_cleanup(part_uuid: str) -> Iterator[None]:
    """After a commit the change stands: a file the store could not delete is an orphan
    for `flask files --clean`, not an error for the client."""
    try:
        yield
    except FileStoreUnavailableError:
        log.warning("files of part %s left in the store: run `flask files --clean`", part_uuid)


def current_path(store: Storage, part: Part) -> Path | None:
    """Where the part's upload is stored, or None when it has none."""
    if not (part.file_sha256 and part.file_ext):
        return None
    return store.file_path(part.uuid, part.file_sha256, part.file_ext)


def stored_file(store: Storage, part: Part) -> tuple[Path, str]:
    """The part's upload on disk and its MIME type, or the API's 404. Whether there is one is
    the upload's own record: `file` is only its display name, which a PUT may change."""
    path = current_path(store, part)
    if path is None and not part.file:
        raise NotFoundError("No file associated with this part")
    local = store.local_copy(path) if path is not None else None
    if local is None:
        raise NotFoundError("File not found on server")
    return local, MIME_TYPES.get(part.file_ext or "", "application/octet-stream")


def download_name(part: Part) -> str:
    """The name a download is saved under: the display name, ending in the stored file's
    extension whatever a PUT renamed it to (a STEP upload is never saved as evil.html)."""
    name = (part.file or "").strip() or f"part-{part.id}"
    ext = part.file_ext or ""
    if not ext or name.lower().endswith(f".{ext}"):
        return name
    return f"{name}.{ext}"


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


def remove_part_files(
    session: Session, store: Storage, part_uuid: str, model_key: str | None
) -> None:
    """After a delete is committed: the part's folder, and its model if nobody shares it."""
    with _left_for_cleanup(part_uuid):
        store.remove_part(part_uuid)
        if model_key:
            remove_unused_model(session, store, model_key)


def remove_unused_model(session: Session, store: Storage, model_key: str) -> None:
    """Delete a GLB no part points at any more."""
    if not session.execute(select(Part.id).where(Part.model_key == model_key).limit(1)).first():
        # The job row stays as history; a later upload of the same content sees the GLB
        # missing and converts again.
        store.remove_model(model_key)
