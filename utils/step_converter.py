"""STEP to GLB conversion with cascadio in a capped, killable child process."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from utils.conversion_errors import (
    SourceMissingError,
    StepConversionError,
    failure_of,
)
from utils.files_io import fsync_directory as _fsync_directory
from utils.glb_inspect import inspect_glb
from utils.step_worker import OUTPUT_NAME, WorkerOutcome, run_worker

# Bytes of the file that looks_like_step needs to see; more is fine.
STEP_HEAD_BYTES = 1024
_STEP_MAGIC = re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*ISO-10303-21[ \t\r\n]*;")
# The child's private name for the source, inside its work folder.
SOURCE_NAME = "source.step"


@dataclass(frozen=True)
class ConversionSettings:
    """Meshing tolerances handed to cascadio (see `cascadio.load` for their meaning)."""

    tol_linear: float
    tol_angular: float
    tol_relative: bool
    merge_primitives: bool = True

    def __post_init__(self) -> None:
        for name in ("tol_linear", "tol_angular"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def cache_key(self) -> str:
        """Short stable string naming these settings and the cascadio version."""
        return (
            f"cascadio-{_cascadio_version()}:lin={self.tol_linear!r},ang={self.tol_angular!r},"
            f"rel={int(self.tol_relative)},merge={int(self.merge_primitives)}"
        )

    def cascadio_options(self) -> dict[str, Any]:
        """Keyword arguments for `cascadio.load`: the fields are named as its parameters."""
        return asdict(self)


# Relative tolerance keeps every good fixture, including the 2400-hole plate, within a minute
# and a few GB, and turns the pathological huge-extent files into sub-second conversions.
DEFAULT_SETTINGS = ConversionSettings(tol_linear=0.01, tol_angular=0.5, tol_relative=True)


@dataclass(frozen=True)
class ConversionResult:
    """What a successful conversion produced and what it cost."""

    bytes_written: int
    meshes: int  # mesh nodes in the scene (parts, counting each instance)
    triangles: int  # over all instances
    seconds: float
    peak_rss_mb: float  # of the child process


def looks_like_step(head: bytes) -> bool:
    """True if `head` (the first STEP_HEAD_BYTES of a file) opens with the ISO-10303-21 header."""
    return _STEP_MAGIC.match(head) is not None


def convert_step(
    src: Path,
    dst: Path,
    *,
    settings: ConversionSettings = DEFAULT_SETTINGS,
    timeout_s: float = 600,
    memory_mb: int = 12288,
) -> ConversionResult:
    """Convert `src` to a GLB at `dst` (atomically), or raise StepConversionError.

    dst's directory must exist; a failed conversion leaves it exactly as it was.
    """
    started = time.monotonic()
    _require_posix_spawn()
    workdir = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".converting", dir=dst.parent))
    try:
        outcome = _run_child(src, workdir, settings, timeout_s, memory_mb)
        meshes, triangles, size = _publish_output(workdir / OUTPUT_NAME, dst)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return ConversionResult(
        bytes_written=size,
        meshes=meshes,
        triangles=triangles,
        seconds=round(time.monotonic() - started, 3),
        peak_rss_mb=round(outcome.peak_rss_kb / 1024, 1),
    )


def _publish_output(glb: Path, dst: Path) -> tuple[int, int, int]:
    """(meshes, triangles, bytes) of a GLB that shows something, renamed durably to dst."""
    meshes, triangles = inspect_glb(glb)
    size = glb.stat().st_size
    os.replace(glb, dst)
    _fsync_directory(dst.parent)
    return meshes, triangles, size


def _require_posix_spawn() -> None:
    if not hasattr(os, "posix_spawn"):
        raise StepConversionError(
            "3D conversion needs a Linux or macOS server", code="unsupported_platform"
        )


def _run_child(
    src: Path, workdir: Path, settings: ConversionSettings, timeout_s: float, memory_mb: int
) -> WorkerOutcome:
    source = _private_source(src, workdir)
    _check_source(source)
    options = settings.cascadio_options()
    outcome = run_worker(source, workdir, options, timeout_s=timeout_s, memory_mb=memory_mb)
    _raise_for_failure(outcome, timeout_s)
    return outcome


def _private_source(src: Path, workdir: Path) -> Path:
    # A link of its own in the work folder: deleting or replacing the part's file while the
    # child runs cannot take the bytes away from it.
    private = workdir / SOURCE_NAME
    try:
        os.link(src, private)
    except FileNotFoundError as exc:
        raise SourceMissingError() from exc
    except OSError:  # another file system, or hard links not allowed here: copy instead
        try:
            shutil.copyfile(src, private)
        except FileNotFoundError as exc:
            raise SourceMissingError() from exc
        except OSError as exc:
            raise StepConversionError("The uploaded file could not be opened.", code="io") from exc
    return private


def _check_source(src: Path) -> None:
    try:
        with src.open("rb") as handle:
            head = handle.read(STEP_HEAD_BYTES)
    except OSError as exc:
        raise StepConversionError("The uploaded file could not be opened.", code="io") from exc
    if not looks_like_step(head):
        raise StepConversionError(
            "The file is not a STEP file (it does not start with ISO-10303-21).", code="not_step"
        )


@cache
def _cascadio_version() -> str:
    try:
        return metadata.version("cascadio")
    except metadata.PackageNotFoundError:
        return "unknown"


def _raise_for_failure(outcome: WorkerOutcome, timeout_s: float) -> None:
    error = failure_of(outcome, timeout_s)
    if error is not None:
        error.detail = outcome.output_tail
        raise error
