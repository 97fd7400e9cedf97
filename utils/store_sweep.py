"""What a wipe's clean-up removes from a file store: every part folder and model that no row
owns. The rows are asked after the listing, so a part added since the wipe's commit (an
upload may be storing its file now) keeps its files: its folder is either not in the listing
yet or named by the rows. A conversion's work folder (`models/.<key>.converting`) and tmp/
stay: work running now stages its files there, and a start-up clears what dead processes
left. Removing parts/ and models/ whole took the files of such a new part with them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

Owned = tuple[set[str], set[str]]  # part folders (uuids), model keys
NOTHING: Owned = (set(), set())
FOLDERS = ("parts", "models")


def still_needed(folder: str, name: str, parts: set[str], models: set[str]) -> bool:
    """Whether parts/<name> or models/<name> belongs to a row or to a running conversion."""
    if folder == "parts":
        return name in parts
    return name.startswith(".") or name.split(".", 1)[0] in models


def remove_unowned(root: Path, still_owned: Callable[[], Owned]) -> None:
    """Under a local store's root (or an object store's cache of it)."""
    listed = [
        (folder, entry)
        for folder in FOLDERS
        if (root / folder).is_dir()
        for entry in list((root / folder).iterdir())
    ]
    parts, models = still_owned()
    for folder, entry in listed:
        if still_needed(folder, entry.name, parts, models):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
