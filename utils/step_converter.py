"""STEP to GLB conversion with cascadio in a capped, killable child process."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import struct
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from utils.files_io import fsync_directory as _fsync_directory
from utils.step_worker import OUTPUT_NAME, WorkerOutcome, run_worker

# Bytes of the file that looks_like_step needs to see; more is fine.
STEP_HEAD_BYTES = 1024
# The JSON chunk of a GLB is small (tens of KB for big assemblies); this bounds a hostile one.
GLB_JSON_LIMIT = 64 * 1024 * 1024
# A crash after the child's address space reached this share of the cap is reported as the
# cap being hit: OpenCASCADE does not always check for failed allocations and then segfaults.
MEMORY_CRASH_SHARE = 0.8
_STEP_MAGIC = re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*ISO-10303-21[ \t\r\n]*;")
_GLB_HEADER = struct.Struct("<4sII")
_GLB_CHUNK = struct.Struct("<I4s")
# The child's private name for the source, inside its work folder.
SOURCE_NAME = "source.step"
# Absolute paths in a message: quoted as Python's OSError shows them (spaces included), or
# bare (without trailing punctuation); "and/or" or "1/2" is left alone.
_ABSOLUTE_PATH = re.compile(r"""'/[^'\n]*'|"/[^"\n]*"|(?<![\w.~-])/[^\s'"]*[^\s'".,;:)\]]""")


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
        """Keyword arguments for `cascadio.load`."""
        return {
            "tol_linear": self.tol_linear,
            "tol_angular": self.tol_angular,
            "tol_relative": self.tol_relative,
            "merge_primitives": self.merge_primitives,
        }


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


class StepConversionError(Exception):
    """A STEP file could not be turned into a GLB; the message is a sentence for end users."""

    def __init__(self, message: str, *, code: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # machine-readable reason, e.g. "timeout" or "no_geometry"
        self.detail = detail  # tail of the converter's own output, for the server log


class SourceMissingError(StepConversionError):
    """The STEP file vanished (its part was deleted or replaced): says nothing about its content."""

    def __init__(self) -> None:
        super().__init__("The uploaded file could not be opened.", code="source_missing")


def hide_paths(text: str) -> str:
    """The message with every absolute path replaced by <path>: users never see server paths."""
    return _ABSOLUTE_PATH.sub("<path>", text)


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
    if not hasattr(os, "posix_spawn"):
        raise StepConversionError(
            "3D conversion needs a Linux or macOS server", code="unsupported_platform"
        )
    workdir = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".converting", dir=dst.parent))
    try:
        outcome = _run_child(src, workdir, settings, timeout_s, memory_mb)
        glb = workdir / OUTPUT_NAME
        meshes, triangles = inspect_glb(glb)
        size = glb.stat().st_size
        os.replace(glb, dst)
        _fsync_directory(dst.parent)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return ConversionResult(
        bytes_written=size,
        meshes=meshes,
        triangles=triangles,
        seconds=round(time.monotonic() - started, 3),
        peak_rss_mb=round(outcome.peak_rss_kb / 1024, 1),
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


def inspect_glb(path: Path) -> tuple[int, int]:
    """Return (mesh nodes, triangles) of a GLB, or raise StepConversionError if it shows nothing."""
    with path.open("rb") as handle:
        magic, version, length = _GLB_HEADER.unpack(_read_exactly(handle, _GLB_HEADER.size))
        chunk_length, chunk_type = _GLB_CHUNK.unpack(_read_exactly(handle, _GLB_CHUNK.size))
        if magic != b"glTF" or version != 2 or chunk_type != b"JSON":
            raise _broken_output("it is not a glTF 2 binary")
        if length != path.stat().st_size or chunk_length > min(length, GLB_JSON_LIMIT):
            raise _broken_output("its length fields do not match the file")
        try:
            gltf = json.loads(_read_exactly(handle, chunk_length))
        except ValueError as exc:
            raise _broken_output("its JSON chunk does not parse") from exc
    return _count_geometry(gltf)


def _count_geometry(gltf: Any) -> tuple[int, int]:
    try:
        accessors = gltf.get("accessors", [])
        mesh_triangles = [
            sum(_primitive_triangles(prim, accessors) for prim in mesh.get("primitives", []))
            for mesh in gltf.get("meshes", [])
        ]
        instances = [node["mesh"] for node in gltf.get("nodes", []) if "mesh" in node]
        triangles = sum(mesh_triangles[index] for index in instances)
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise _broken_output("its mesh description is inconsistent") from exc
    if not instances or triangles <= 0:
        raise StepConversionError(
            "The STEP file contains no solid or surface geometry that could be shown "
            "(it may hold only an assembly structure, wireframes or annotations).",
            code="no_geometry",
        )
    return len(instances), triangles


def _primitive_triangles(primitive: dict[str, Any], accessors: list[dict[str, Any]]) -> int:
    if primitive.get("mode", 4) != 4:  # only plain triangle lists carry surfaces here
        return 0
    index = primitive.get("indices", primitive["attributes"]["POSITION"])
    return int(accessors[index]["count"]) // 3


def _read_exactly(handle: Any, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise _broken_output("it is truncated")
    return data


def _broken_output(reason: str) -> StepConversionError:
    return StepConversionError(
        f"The converter produced an unusable 3D model ({reason}).", code="bad_output"
    )


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
    error = _failure(outcome, timeout_s)
    if error is not None:
        error.detail = outcome.output_tail
        raise error


def _failure(outcome: WorkerOutcome, timeout_s: float) -> StepConversionError | None:
    memory_mb = outcome.memory_mb  # the cap really applied, which a hard limit may have lowered
    if outcome.timed_out:
        return StepConversionError(
            f"The conversion took longer than {timeout_s:g} s and was stopped.", code="timeout"
        )
    report = outcome.report or {}
    status = report.get("status")
    if status == "memory" or "bad_alloc" in outcome.output_tail:
        return _memory_failure(memory_mb)
    if os.WIFSIGNALED(outcome.wait_status):
        return _signal_failure(os.WTERMSIG(outcome.wait_status), outcome.peak_vm_kb, memory_mb)
    if status == "ok":
        return None
    if status == "empty":
        return StepConversionError(
            "The file could not be read as a STEP model; it may be damaged, truncated or "
            "saved in another format.",
            code="unreadable",
        )
    if status == "error" and report.get("type") == "FileNotFoundError":
        return SourceMissingError()
    if status == "error":
        reason = hide_paths(str(report.get("message", ""))).strip().rstrip(".") or "unknown error"
        return StepConversionError(
            f"The STEP file could not be converted ({reason}).", code="rejected"
        )
    code = os.waitstatus_to_exitcode(outcome.wait_status)
    return StepConversionError(
        f"The converter stopped without a result (exit code {code}).", code="crashed"
    )


def _signal_failure(signum: int, peak_vm_kb: int, memory_mb: int) -> StepConversionError:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if signum == signal.SIGKILL:  # not ours (that is a timeout): the kernel's OOM killer
        return StepConversionError(
            "The converter was killed (SIGKILL), most likely because the server ran out of memory.",
            code="memory",
        )
    if peak_vm_kb >= MEMORY_CRASH_SHARE * memory_mb * 1024:
        return _memory_failure(memory_mb, f" (it crashed with {name})")
    return StepConversionError(
        f"The converter crashed ({name}) while reading this file.", code="crashed"
    )


def _memory_failure(memory_mb: int, how: str = "") -> StepConversionError:
    return StepConversionError(
        f"The conversion needed more than the {memory_mb} MB memory limit and was stopped{how}.",
        code="memory",
    )
