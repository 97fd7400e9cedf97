"""Find and remove files no part owns, and report parts whose files are gone."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.part import Part
from utils.storage import Storage


@dataclass
class FileAudit:
    """What is on disk without a part, and what a part points at that is not on disk."""

    orphan_part_dirs: list[str] = field(default_factory=list)
    orphan_models: list[str] = field(default_factory=list)
    missing_files: list[int] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_part_dirs or self.orphan_models or self.missing_files or self.stray_files
        )


def audit_files(session: Session, storage: Storage) -> FileAudit:
    """Compare the store (one listing: a folder walk, or the bucket's objects) with the parts."""
    rows = session.execute(
        select(Part.id, Part.uuid, Part.file_sha256, Part.file_ext, Part.model_key)
    ).all()
    audit = FileAudit()
    known_uuids = {row.uuid for row in rows}
    used_models = {row.model_key for row in rows if row.model_key}
    audit.orphan_part_dirs = sorted(set(storage.part_uuids_on_disk()) - known_uuids)
    audit.orphan_models = sorted(set(storage.model_keys_on_disk()) - used_models)
    in_part_folder = _files_by_part(storage.stored_files("parts"))
    for row in rows:
        current = (
            f"parts/{row.uuid}/{row.file_sha256}.{row.file_ext}"
            if row.file_sha256 and row.file_ext
            else None
        )
        held = in_part_folder.get(row.uuid, [])
        if current is not None and current not in held:
            audit.missing_files.append(row.id)
        audit.stray_files.extend(name for name in held if name != current)
    return audit


def _files_by_part(names: list[str]) -> dict[str, list[str]]:
    """Files right inside each parts/<uuid>/ folder (previews are in views/, below it)."""
    found: dict[str, list[str]] = {}
    for name in names:
        segments = name.split("/")
        if len(segments) == 3:
            found.setdefault(segments[1], []).append(name)
    return found


def remove_orphans(storage: Storage, audit: FileAudit) -> int:
    """Delete what the audit found unowned; returns how many entries went."""
    for part_uuid in audit.orphan_part_dirs:
        storage.remove_part(part_uuid)
    for key in audit.orphan_models:
        storage.remove_model(key)
    for relative in audit.stray_files:
        storage.remove_file(storage.root / relative)
    return len(audit.orphan_part_dirs) + len(audit.orphan_models) + len(audit.stray_files)
