"""gzip for response bodies: deterministic bytes, the ETag of the gzip representation, and a
body's gzip made once however many requests ask for it at the same time."""

from __future__ import annotations

import functools
import gzip
import threading
from collections.abc import Callable

# Inside the quotes: the gzip representation's strong ETag is "<identity etag>-gzip", so no
# cache mistakes one representation for the other, and the identity part stays readable.
GZIP_ETAG_SUFFIX = "-gzip"


def gzip_bytes(body: bytes, level: int) -> bytes:
    """The body gzipped at `level` (1-9); no timestamp in the header, so the same body always
    gives the same bytes."""
    return gzip.compress(body, compresslevel=level, mtime=0)


def gzip_etag(etag: str) -> str:
    """The gzip representation's ETag value (unquoted) for the identity one's."""
    return etag + GZIP_ETAG_SUFFIX


class GzipOnce:
    """A body's gzip per level, made by the first caller; callers meanwhile wait for it.

    A cached 7 MB list costs about 115 ms of CPU to gzip (BENCHMARKS.md, "Compression"):
    eight phones asking at once after a change must not each pay it. `shared` (the whole
    list's, utils.host_bodies) takes (level, make) and may read the gzip another process made.
    """

    def __init__(self, shared: Callable[[int, Callable[[], bytes]], bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[int, bytes] = {}
        self._shared = shared
        self.made = 0  # gzips made or read so far (one per level asked): the cache's own count

    def get(self, body: bytes, level: int) -> bytes:
        """The gzip of `body` (always the same body for one instance) at `level`."""
        with self._lock:
            packed = self._bodies.get(level)
            if packed is None:
                make = functools.partial(gzip_bytes, body, level)
                packed = make() if self._shared is None else self._shared(level, make)
                self._bodies[level] = packed
                self.made += 1
            return packed
