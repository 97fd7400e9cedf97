"""The errors a STEP conversion ends with, and which one a finished child's outcome means."""

from __future__ import annotations

import os
import re
import signal
from typing import Any

from utils.step_worker import WorkerOutcome

# A crash after the child's address space reached this share of the cap is reported as the
# cap being hit: OpenCASCADE does not always check for failed allocations and then segfaults.
MEMORY_CRASH_SHARE = 0.8
# Absolute paths in a message: quoted as Python's OSError shows them (spaces included), or
# bare (without trailing punctuation); "and/or" or "1/2" is left alone.
_ABSOLUTE_PATH = re.compile(r"""'/[^'\n]*'|"/[^"\n]*"|(?<![\w.~-])/[^\s'"]*[^\s'".,;:)\]]""")


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


def failure_of(outcome: WorkerOutcome, timeout_s: float) -> StepConversionError | None:
    """The error a finished child's outcome means, or None when it converted the file."""
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
    return _report_failure(report, outcome.wait_status)


def _report_failure(report: dict[str, Any], wait_status: int) -> StepConversionError | None:
    status = report.get("status")
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
    code = os.waitstatus_to_exitcode(wait_status)
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
