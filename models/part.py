"""The Part: its columns, its wire shape and its field rules."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import Mapped, mapped_column

from models.base import db
from models.types import UTCDateTime, isoformat, utcnow
from models.workflow import PartWorkflowMixin

PART_TYPES = ("cnc", "hand", "misc")
CATEGORIES = ("review", "cnc", "hand", "misc", "completed")
STATUSES = ("Pending", "Reviewed", "In Progress", "Already Started", "Completed")

# Column lengths; the input schema enforces the same numbers on every database.
MAX_LENGTHS = {
    "type": 50,
    "name": 200,
    "material": 200,
    "material_thickness": 50,
    "part_id": 100,
    "subsystem": 100,
    "assigned": 100,
    "status": 50,
    "category": 20,
    "file": 200,
    "onshape_url": 500,
    "notes": 10_000,
}


def _new_uuid() -> str:
    return str(uuid_module.uuid4())


class Part(PartWorkflowMixin, db.Model):
    """A part to be made: designed, reviewed, approved, claimed, made and completed."""

    __tablename__ = "parts"
    # AUTOINCREMENT on SQLite: a deleted part's id is never handed to a new part.
    __table_args__ = (
        Index("ix_parts_category_status", "category", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    part_id: Mapped[str] = mapped_column(String(MAX_LENGTHS["part_id"]), nullable=False)
    type: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["type"]))
    name: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["name"]))
    material: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["material"]))
    material_thickness: Mapped[str | None] = mapped_column(
        String(MAX_LENGTHS["material_thickness"])
    )
    subsystem: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["subsystem"]))
    assigned: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["assigned"]), index=True)
    status: Mapped[str] = mapped_column(String(MAX_LENGTHS["status"]), nullable=False)
    category: Mapped[str] = mapped_column(String(MAX_LENGTHS["category"]), nullable=False)
    # MutableDict: setting a key in place (part.misc_info["x"] = 1) is saved too; nested
    # objects are not tracked, so replace a nested value rather than editing it in place.
    misc_info: Mapped[dict[str, Any] | None] = mapped_column(MutableDict.as_mutable(JSON))
    notes: Mapped[str | None] = mapped_column(Text)
    file: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["file"]))
    onshape_url: Mapped[str | None] = mapped_column(String(MAX_LENGTHS["onshape_url"]))
    # The stored upload: content hash, size and kind; its path derives from uuid and hash.
    file_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_ext: Mapped[str | None] = mapped_column(String(8))
    # The 3D model: its content-cache key and status, copied here so lists need no join.
    model_key: Mapped[str | None] = mapped_column(String(120), index=True)
    model_status: Mapped[str] = mapped_column(String(16), nullable=False, default="none")
    model_error: Mapped[str | None] = mapped_column(Text)
    claimed_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("uuid", _new_uuid())
        fields.setdefault("part_id", fields["uuid"][:8])
        fields.setdefault("status", "Pending")
        fields.setdefault("category", "review")
        fields.setdefault("amount", 1)
        fields.setdefault("model_status", "none")
        super().__init__(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape every part-returning endpoint emits (camelCase, as today)."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "partId": self.part_id,
            "type": self.type,
            "name": self.name,
            "material": self.material,
            "materialThickness": self.material_thickness,
            "subsystem": self.subsystem,
            "assigned": self.assigned,
            "status": self.status,
            "category": self.category,
            "miscInfo": self.misc_info,
            "notes": self.notes,
            "file": self.file,
            "onshapeUrl": self.onshape_url,
            "claimedDate": isoformat(self.claimed_date),
            "createdAt": isoformat(self.created_at),
            "updatedAt": isoformat(self.updated_at),
            "amount": self.amount,
            "modelStatus": self.model_status,
            "modelError": self.model_error,
        }

    def apply_changes(self, changes: dict[str, Any]) -> None:
        """Set validated fields; a hand part that gains a worker records them."""
        previous_assignee = self.assigned
        for key, value in changes.items():
            setattr(self, key, value)
        if self.assigned and self.assigned != previous_assignee:
            self.record_hand_worker(self.assigned)

    def __repr__(self) -> str:
        return f"<Part {self.id} {self.name!r} {self.category}/{self.status}>"
