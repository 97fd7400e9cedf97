"""Each listed part's JSON, kept for one parts revision, so a page of parts is one narrow
query (ids and the sort's column) and a join of bytes.

A page of 25 parts spent about half its CPU reading all 21 columns of each row and writing
them as JSON (datetimes, the miscInfo document); the same parts are on many pages (another
sort, filter or offset, the next phone's request for the same page). A part missing here is
read by id and written once. Every write moves the parts revision, and the fragments of an
older revision are dropped whole (as utils.parts_cache keeps its bodies): a fragment is
never older than the revision it is kept under.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

from cachetools import LRUCache
from sqlalchemy.orm import Session

from models.part_wire import wire_dict
from models.queries import part_rows

# Parts kept per process: about 700 bytes each, so about 3 MB; the rows of a few hundred
# different pages. The bound keeps memory flat on a 100k archive.
FRAGMENTS_KEPT = 4096


def compact_json(payload: object) -> bytes:
    """JSON as jsonify writes it (compact, sorted keys, ASCII), without the final newline."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def spliced(envelope: bytes, fragments: Sequence[bytes]) -> bytes:
    """`envelope`, an object whose "parts" is [] and whose other values are numbers or null
    (so the key cannot appear twice), with the fragments as that list's items: the same
    bytes as encoding the envelope with the parts' dictionaries in it."""
    return envelope.replace(b'"parts":[]', b'"parts":[' + b",".join(fragments) + b"]", 1)


class PartFragments:
    """Part JSON by id for the newest revision seen, at most FRAGMENTS_KEPT of them (least
    recently used leave first); safe for a threaded server."""

    def __init__(self, size: int = FRAGMENTS_KEPT) -> None:
        self._revision = -1
        self._kept: LRUCache[int, bytes] = LRUCache(size)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def page(self, session: Session, revision: int, ids: Sequence[int]) -> list[bytes]:
        """The JSON of these parts in this order, read by id where not kept (a part deleted
        since its id was read is left out)."""
        found = self._lookup(revision, ids)
        missing = [part_id for part_id in ids if part_id not in found]
        if missing:
            made = {row.id: compact_json(wire_dict(row)) for row in part_rows(session, missing)}
            self._keep(revision, made)
            found.update(made)
        return [found[part_id] for part_id in ids if part_id in found]

    def _lookup(self, revision: int, ids: Sequence[int]) -> dict[int, bytes]:
        with self._lock:
            if revision != self._revision:
                return {}
            kept = (self._kept.get(part_id) for part_id in ids)  # get marks it recently used
            return {part_id: text for part_id, text in zip(ids, kept, strict=True) if text}

    def _keep(self, revision: int, made: dict[int, bytes]) -> None:
        with self._lock:
            if revision > self._revision:
                self._revision = revision
                self._kept.clear()
            if revision == self._revision:
                self._kept.update(made)
