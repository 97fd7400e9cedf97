"""How many conversions a host runs at once, how long each may run, and whether their memory
caps fit the host."""

from __future__ import annotations

import logging
import math
import os

log = logging.getLogger("aerie.jobs")


def worker_count(configured: int) -> int:
    """0 means one fewer than the CPUs, at least one."""
    return configured if configured > 0 else max(1, (os.cpu_count() or 2) - 1)


def time_budget_s(size_bytes: int, seconds_per_mb: float, cap_s: float) -> float:
    """Seconds a conversion of a STEP file this size may run: seconds_per_mb for each started
    MB (at least one), within cap_s; 0 per MB gives every file the cap.

    A host has few slots, and an 18 KB file can mesh for minutes (overflowing coordinates): a
    small file must not hold a slot for the cap that a 10 MB assembly may need.
    """
    if seconds_per_mb <= 0:
        return cap_s
    started_mb = max(1, math.ceil(size_bytes / 2**20))
    return min(cap_s, seconds_per_mb * started_mb)


def warn_if_memory_overcommitted(slots: int, memory_mb: int) -> None:
    """Say so when every slot at its cap could exceed physical memory. Only a warning: the
    cap counts address space, which OpenCASCADE reserves far beyond what it touches."""
    try:
        physical_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (AttributeError, OSError, ValueError):  # not on every platform
        return
    if slots * memory_mb > physical_mb:
        log.warning(
            "%d conversion slots x CONVERSION_MEMORY_MB %d MB exceed this host's %d MB of memory:"
            " lower CONVERSION_WORKERS or CONVERSION_MEMORY_MB if conversions get OOM-killed",
            slots,
            memory_mb,
            physical_mb,
        )
