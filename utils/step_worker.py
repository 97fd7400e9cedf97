"""The cascadio child process: how the parent launches and watches it, and what it runs."""

# The child half runs as `python -I step_worker.py ...` and imports only the standard library
# and cascadio, so isolated mode works. Every outcome it can report goes into a status file;
# signals and the kernel's OOM killer reach the parent through the wait status instead.

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import re
import select
import signal
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows: the server imports this module, the child never runs there
    resource = None  # type: ignore[assignment]

WORKER_PATH = Path(__file__).resolve()
OUTPUT_NAME = "out.glb"
STATUS_NAME = "status.json"
LOG_TAIL_BYTES = 4096
POLL_INTERVAL_MS = 100
MESSAGE_LIMIT = 500
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_VM_PEAK = re.compile(rb"^VmPeak:\s+(\d+) kB", re.MULTILINE)
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_MIB = 1024 * 1024
log = logging.getLogger("aerie.convert")
_clamp_lock = threading.Lock()
_clamp_logged: set[tuple[int, int]] = set()


@dataclass(frozen=True)
class WorkerOutcome:
    """How the child ended, as seen from the parent."""

    wait_status: int
    memory_mb: int  # the address-space cap the child really ran under
    peak_rss_kb: int
    peak_vm_kb: int  # last sampled peak address-space size, the quantity RLIMIT_AS caps
    timed_out: bool
    output_tail: str  # cleaned tail of OpenCASCADE's stdout/stderr
    report: dict[str, Any] | None  # the status file, if the child got to write it


def run_worker(
    src: Path, workdir: Path, options: dict[str, Any], *, timeout_s: float, memory_mb: int
) -> WorkerOutcome:
    """Convert `src` into workdir/OUTPUT_NAME in a child with `cascadio.load(**options)`."""
    args = [str(src.resolve()), str(workdir.resolve()), "--options", json.dumps(options)]
    return run_capped(WORKER_PATH, args, workdir, timeout_s=timeout_s, memory_mb=memory_mb)


def run_capped(
    script: Path, args: list[str], workdir: Path, *, timeout_s: float, memory_mb: int
) -> WorkerOutcome:
    """Run `script args` as a capped child (its own process group, no secrets, killed with
    us and at the deadline); the script takes --memory-mb and --parent-pid, calls
    die_with_parent and limit_resources, and reports in workdir/STATUS_NAME."""
    deadline = time.monotonic() + timeout_s
    memory_mb = effective_memory_mb(memory_mb)
    argv = [sys.executable, "-I", str(script), *args]
    argv += ["--memory-mb", str(memory_mb), "--parent-pid", str(os.getpid())]
    pid, output = _spawn(argv)
    try:
        supervisor = _Supervisor(pid, output)
        wait_status, peak_rss_kb, timed_out = supervisor.wait(deadline)
    finally:
        os.close(output)
    return WorkerOutcome(
        wait_status=wait_status,
        memory_mb=memory_mb,
        peak_rss_kb=peak_rss_kb,
        peak_vm_kb=supervisor.peak_vm_kb,
        timed_out=timed_out,
        output_tail=_clean_tail(supervisor.tail),
        report=_read_report(workdir / STATUS_NAME),
    )


def effective_memory_mb(configured_mb: int) -> int:
    """The configured cap, lowered to this process's hard RLIMIT_AS (which the child inherits
    and may not raise: a container or `ulimit -v` sets it)."""
    if resource is None:
        return configured_mb
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY or hard >= configured_mb * _MIB:
        return configured_mb
    hard_mb = max(1, hard // _MIB)
    with _clamp_lock:
        first = (configured_mb, hard_mb) not in _clamp_logged
        _clamp_logged.add((configured_mb, hard_mb))
    if first:  # once per process: every conversion would say the same
        log.warning(
            "CONVERSION_MEMORY_MB is %d but this process may use at most %d MB of address space "
            "(hard RLIMIT_AS): conversions are capped at %d MB",
            *(configured_mb, hard_mb, hard_mb),
        )
    return hard_mb


def _spawn(argv: list[str]) -> tuple[int, int]:
    # posix_spawn (not fork) is safe from a threaded server; setsid gives the child its own
    # process group, so a timeout kills everything it started.
    read_end, write_end = os.pipe()
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            _child_env(),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, write_end, 2),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            ],
            setsid=True,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return pid, read_end


def _child_env() -> dict[str, str]:
    # The child parses untrusted input: it gets none of the server's secrets.
    env = {key: os.environ[key] for key in ("PATH", "TMPDIR") if key in os.environ}
    env["LC_ALL"] = "C.UTF-8"
    return env


class _Supervisor:
    """Waits for one child, keeping the tail of its output and its peak address-space size."""

    def __init__(self, pid: int, output: int) -> None:
        self.pid = pid
        self.output = output
        self.tail = b""
        self.peak_vm_kb = 0
        self._poller = select.poll()
        # Readable once the child exits: the poll ends then, not up to POLL_INTERVAL_MS later.
        self._exit = _pidfd(pid)

    def wait(self, deadline: float) -> tuple[int, int, bool]:
        """Return (wait status, peak RSS in kB, timed out); the child is reaped in every case."""
        try:
            os.set_blocking(self.output, False)
            self._poller.register(self.output, select.POLLIN)
            if self._exit is not None:
                self._poller.register(self._exit, select.POLLIN)
            while True:
                self._collect()
                waited, wait_status, usage = os.wait4(self.pid, os.WNOHANG)
                if waited:
                    self._append(_read_available(self.output))
                    return wait_status, usage.ru_maxrss, False
                if time.monotonic() >= deadline:
                    return (*_kill_and_reap(self.pid), True)
        except BaseException:
            _kill_and_reap(self.pid)
            raise
        finally:
            if self._exit is not None:
                os.close(self._exit)

    def _collect(self) -> None:
        ready = {fd for fd, _event in self._poller.poll(POLL_INTERVAL_MS)}
        if self.output in ready:
            chunk = _read_available(self.output)
            if not chunk:  # end of output: from now on the poll only paces the loop
                self._poller.unregister(self.output)
            self._append(chunk)
        self.peak_vm_kb = max(self.peak_vm_kb, _vm_peak_kb(self.pid))

    def _append(self, chunk: bytes) -> None:
        self.tail = (self.tail + chunk)[-LOG_TAIL_BYTES:]


def _pidfd(pid: int) -> int | None:
    with suppress(AttributeError, OSError):  # not Linux, or a kernel older than 5.3
        return os.pidfd_open(pid)
    return None


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def _vm_peak_kb(pid: int) -> int:
    try:
        match = _VM_PEAK.search(Path(f"/proc/{pid}/status").read_bytes())
    except OSError:
        return 0
    return int(match.group(1)) if match else 0


def _kill_and_reap(pid: int) -> tuple[int, int]:
    # The child is not reaped yet, so its process-group id cannot have been reused.
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    return wait_status, usage.ru_maxrss


def _clean_tail(raw: bytes) -> str:
    text = _ANSI_ESCAPE.sub("", raw.decode("utf-8", errors="replace"))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _read_report(status: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


# ---- child side -------------------------------------------------------------------------


def die_with_parent(parent_pid: int) -> None:
    """Child side: the kernel kills this process when the parent dies."""
    # If the server dies mid-conversion nobody enforces the timeout any more, and a hostile file
    # can keep this process spinning for ever: have the kernel kill it instead.
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent was already gone before prctl took effect
        os._exit(1)


def limit_resources(memory_mb: int) -> None:
    """Child side: cap the address space at `memory_mb` and allow no core file."""
    cap = memory_mb * _MIB
    # Only root may raise a hard limit; the parent already clamped, this is a second guard.
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    # A crash inside OpenCASCADE must not leave a multi-gigabyte core file on the server.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _convert(src: Path, workdir: Path, options: dict[str, Any]) -> dict[str, Any]:
    # Imported after the memory cap is set, so OpenCASCADE's start-up counts against it too.
    import cascadio

    glb = cascadio.load(src.read_bytes(), file_type="step", **options)
    if not glb:
        return {"status": "empty"}
    with (workdir / OUTPUT_NAME).open("wb") as handle:
        handle.write(glb)
        handle.flush()
        os.fsync(handle.fileno())
    return {"status": "ok", "bytes": len(glb)}


def _run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        limit_resources(args.memory_mb)
        return _convert(args.src, args.workdir, json.loads(args.options))
    except MemoryError:
        return {"status": "memory"}
    except Exception as exc:  # every failure, whatever its type, is reported to the parent
        return {"status": "error", "type": type(exc).__name__, "message": str(exc)[:MESSAGE_LIMIT]}


def main(argv: list[str]) -> int:
    """Child entry point: convert, then write the outcome as JSON to workdir/STATUS_NAME."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--options", default="{}", help="JSON keyword arguments for cascadio.load")
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid)
    report = _run(args)
    report["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (args.workdir / STATUS_NAME).write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
