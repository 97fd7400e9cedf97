"""Whether a process still runs, asked without disturbing it (POSIX and Windows)."""

from __future__ import annotations

import os
from pathlib import Path

# GetExitCodeProcess reports this while the process runs.
_WINDOWS_STILL_ACTIVE = 259
_WINDOWS_QUERY_LIMITED_INFORMATION = 0x1000
_WINDOWS_ACCESS_DENIED = 5


def pid_alive(pid: int) -> bool:
    """True while a process with this pid runs; a zombie (exited, not yet reaped) is dead.

    A process we may not signal (another user's) counts as alive: it exists.
    """
    if pid <= 0:  # 0 and negatives name process groups, never one process
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Killed but not reaped yet (a late init, a busy parent): the pid exists, runs nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or gone since
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(_WINDOWS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == _WINDOWS_ACCESS_DENIED  # type: ignore[attr-defined]
    try:
        code = ctypes.c_ulong()
        known = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(known) and code.value == _WINDOWS_STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
