"""How many conversions a host runs at once, and whether their memory caps fit the host."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("aerie.jobs")


def worker_count(configured: int) -> int:
    """0 means one fewer than the CPUs, at least one."""
    return configured if configured > 0 else max(1, (os.cpu_count() or 2) - 1)


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
