"""Test helpers: a counting request body and the peak RSS growth of this process."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
MB = 1024 * 1024
# A regression must fail the test, not exhaust the machine: the body stops serving here.
SERVE_AT_MOST = 16 * MB


def json_array_chunks(total: int, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """`[{},{},…,{}]` of exactly `total` (>= 4) bytes, produced lazily: the attack body."""
    objects, padding = divmod(total - 4, 3)
    full_chunk = b"{}," * (chunk_size // 3)
    yield b"["
    while objects:
        count = min(objects, len(full_chunk) // 3)
        yield full_chunk[: count * 3]
        objects -= count
    yield b"{}" + b" " * padding + b"]"


class CountingBody(io.RawIOBase):
    """A JSON body that claims `size` bytes and counts what the app reads of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.bytes_read = 0
        self._chunks = json_array_chunks(size)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.bytes_read >= SERVE_AT_MOST:
            return 0
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self.bytes_read += count
        return count


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def peak_rss_growth(action: Callable[[], T]) -> tuple[T, int]:
    """Run `action`; return its result and how far this process's peak RSS rose, in bytes."""
    before = _status_kb("VmRSS")
    # Writing 5 resets VmHWM to the current RSS (Linux >= 4.0), so the peak after the action
    # is the peak during it. Where that is refused, VmHWM still bounds it from above (a peak
    # from earlier in the run can only make the growth look larger, never hide it).
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    result = action()
    return result, (_status_kb("VmHWM") - before) * 1024
