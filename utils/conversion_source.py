"""Which STEP file a conversion job reads: the file of a part that holds its content now."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from models.base import db
from models.conversion import FILES_UNAVAILABLE_ERROR
from models.part import Part
from utils import model_variants, step_converter
from utils.conversion_capacity import time_budget_s
from utils.conversion_errors import SourceMissingError, StepConversionError, hide_paths
from utils.storage import FileStoreUnavailableError, Storage, StorageError

log = logging.getLogger("aerie.jobs")
# A job's error when no part's file holds its content any more; used only while parts still
# point at the job (otherwise the job is dropped), and it names no path.
SOURCE_GONE = "The STEP file is no longer stored on the server; upload it again"
FILES_ERROR = "The server could not read or write this conversion's files"


def convert_for_key(app: Flask, key: str) -> int:
    """Convert the STEP content behind `key` into its shared GLB; returns the GLB's size.

    Reads the file of a part that holds the content now, asking again whenever the one
    tried has gone (its part deleted or replaced meanwhile); SourceMissingError if none is left.
    """
    storage = app.extensions["storage"]
    staged = storage.staging_model_path(key)
    tried: set[Path] = set()
    try:
        while (source := _live_source(storage, key, tried)) is not None:
            tried.add(source)
            try:
                result = step_converter.convert_step(
                    source,
                    staged,
                    settings=app.extensions["conversion_settings"],
                    timeout_s=_time_budget(app, source),
                    memory_mb=int(app.config["CONVERSION_MEMORY_MB"]),
                )
            except SourceMissingError:
                continue
            _publish_with_variants(app, staged, key)
            return result.bytes_written
    finally:
        staged.unlink(missing_ok=True)
    raise SourceMissingError()


def _time_budget(app: Flask, source: Path) -> float:
    """This file's conversion time limit (CONVERSION_SECONDS_PER_MB within the timeout)."""
    try:
        size = source.stat().st_size
    except OSError as exc:  # gone since it was chosen: try another holder
        raise SourceMissingError() from exc
    return time_budget_s(
        size,
        float(app.config["CONVERSION_SECONDS_PER_MB"]),
        float(app.config["CONVERSION_TIMEOUT_SECONDS"]),
    )


def _publish_with_variants(app: Flask, staged: Path, key: str) -> None:
    """Optimise (unless MODEL_OPTIMISE is off), then publish the variants before the raw
    GLB: once the raw one is there, the model may be announced ready."""
    storage = app.extensions["storage"]
    variants: dict[str, Path] = {}
    try:
        if app.config["MODEL_OPTIMISE"]:
            max_error = float(app.config["MODEL_MAX_ERROR"])
            caps = app.extensions["optimiser_caps"]
            variants = model_variants.stage_variants(storage, key, staged, max_error, caps)
        model_variants.publish_variants(storage, key, variants)
        storage.publish_model(staged, key)
    finally:
        for path in variants.values():
            path.unlink(missing_ok=True)


def _live_source(storage: Storage, key: str, tried: set[Path]) -> Path | None:
    """A STEP file with this content that a part holds now, other than those tried."""
    sha = key.split("-", 1)[0]
    # A fresh transaction: a part uploaded since the last try must be seen.
    db.session.rollback()
    holders = db.session.execute(
        select(Part.uuid, Part.file_ext).where(Part.file_sha256 == sha, Part.file_ext.is_not(None))
    ).all()
    db.session.rollback()
    paths = (storage.file_path(uuid, sha, ext) for uuid, ext in holders)
    # Through the store: with an object store, this host fetches the STEP into its cache.
    fetched = (storage.local_copy(path) for path in paths if path not in tried)
    return next((path for path in fetched if path is not None), None)


def attempt_conversion(app: Flask, key: str) -> tuple[str | None, int | None]:
    """(error for the user, GLB size); the error is None on success, SOURCE_GONE when no
    part's file holds the content any more, and never names a server path."""
    try:
        return None, convert_for_key(app, key)
    except SourceMissingError:
        return SOURCE_GONE, None
    except StepConversionError as exc:
        return hide_paths(str(exc)), None
    except (FileStoreUnavailableError, OSError) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            log.exception("conversion %s: file error", key)
            return FILES_ERROR, None
        # For now (the store unreachable, a full disk): the runner's repair converts again.
        log.warning("conversion %s: files unavailable (%s); it will be tried again", key, exc)
        return FILES_UNAVAILABLE_ERROR, None
    except StorageError:
        log.exception("conversion %s: file error", key)
        return FILES_ERROR, None
    except Exception:  # noqa: BLE001 - the job must end, not stay "running" for ever
        log.exception("conversion %s: unexpected error", key)
        return "The conversion stopped because of a server error; upload the file again", None
