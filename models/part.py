"""The Part: its columns, its wire shape, its field rules and its workflow transitions."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, or_, select, update
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db
from models.events import record_event
from models.part_wire import WIRE_ATTRIBUTES, wire_dict
from models.revision import write_parts
from models.states import (
    CATEGORIES,
    PART_TYPES,
    STATUSES,
    TAB_PLACES,
    Category,
    ModelStatus,
    PartType,
    Status,
)
from models.types import MAX_PART_ID, UTCDateTime, isoformat, utcnow
from models.workflow_rules import check_update, client_keys, keep_server_owned, refused
from utils.errors import ConflictError, NotFoundError

__all__ = ["CATEGORIES", "PART_TYPES", "STATUSES", "Part", "merge_misc_info"]

HAND_WORKERS = "handWorkers"
LEGACY_HAND_WORKERS = "hand_workers"
# Stamped into miscInfo by complete; revert removes it, so it always names the current completion.
COMPLETED_AT = "completed_at"
COMPLETED_INCORRECTLY = "completedIncorrectly"  # the UI's flag: the leaderboard's −1
COMPLETION_KEYS = frozenset({COMPLETED_AT, COMPLETED_INCORRECTLY})

# What create never takes from the body: a new part starts in review, Pending, unclaimed.
CREATE_IGNORED = frozenset({"category", "status", "claimed_date"})
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


def merge_misc_info(existing: dict[str, Any] | None, incoming: dict[str, Any] | None) -> Any:
    """Incoming keys win, but for those only the server writes (they stay as stored); the
    result is a new dict so the change is always persisted."""
    merged = {**(existing or {}), **client_keys(incoming)}
    return merged or None


class Part(db.Model):
    """A part to be made: designed, reviewed, approved, claimed, made and completed.

    It owns every workflow transition; each refuses a move that makes no sense with a 409.
    """

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
    model_status: Mapped[str] = mapped_column(String(16), nullable=False, default=ModelStatus.NONE)
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
        fields.setdefault("status", Status.PENDING)
        fields.setdefault("category", Category.REVIEW)
        fields.setdefault("amount", 1)
        fields.setdefault("model_status", ModelStatus.NONE)
        super().__init__(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape every part-returning endpoint emits (camelCase, as today)."""
        return wire_dict([getattr(self, name) for name in WIRE_ATTRIBUTES])

    @classmethod
    def create(cls, fields: dict[str, Any]) -> Part:
        """A new part: always in review and Pending, whatever the body named; never claimed."""
        given = {k: v for k, v in fields.items() if v is not None and k not in CREATE_IGNORED}
        if "misc_info" in given:
            given["misc_info"] = client_keys(given["misc_info"]) or None
        part = cls()
        part.apply_changes(given)
        return part

    def update(self, changes: dict[str, Any]) -> None:
        """PUT: content fields and a status valid where the part is; an assignee change is a
        claim (claimedDate follows it); miscInfo keeps the server's keys (handWorkers,
        completed_at). Anything else is a 409 naming the allowed actions."""
        changes = check_update(self, changes)  # with the tab a new type moves the part to
        changes = {k: v for k, v in changes.items() if k != "claimed_date"}
        if "misc_info" in changes:
            changes["misc_info"] = keep_server_owned(self.misc_info, changes["misc_info"])
        if "assigned" in changes and changes["assigned"] != self.assigned:
            changes["claimed_date"] = utcnow() if changes["assigned"] else None
        self.apply_changes(changes)

    def apply_changes(self, changes: dict[str, Any]) -> None:
        """Set validated fields; a hand part that gains a worker records them."""
        previous_assignee = self.assigned
        for key, value in changes.items():
            setattr(self, key, value)
        if self.assigned and self.assigned != previous_assignee:
            self.record_hand_worker(self.assigned)

    def record_hand_worker(self, name: str, when: datetime | None = None) -> None:
        """Remember everyone who worked on a hand part (the leaderboard counts them)."""
        if self.type != PartType.HAND or not name:
            return
        info = dict(self.misc_info or {})
        workers = info.get(HAND_WORKERS) or info.get(LEGACY_HAND_WORKERS) or []
        # Only the server writes the list, but a restored or hand-edited row may hold anything.
        workers = list(workers) if isinstance(workers, list) else []
        workers.append({"name": name, "timestamp": (when or utcnow()).isoformat()})
        info[HAND_WORKERS] = workers
        self.misc_info = info

    def approve(self, reviewer: str | None, misc_info: dict[str, Any] | None) -> None:
        """review → the part's fabrication tab (unknown type → hand), status Reviewed."""
        if self.category != Category.REVIEW:
            raise refused(
                "Only parts in review can be approved; this part is already "
                + TAB_PLACES[self.category],
                self,
            )
        extra = {"reviewer": reviewer} if reviewer else {}
        self.misc_info = merge_misc_info(merge_misc_info(self.misc_info, misc_info), extra)
        self.category = Category(self.type) if self.type in PART_TYPES else Category.HAND
        self.status = Status.REVIEWED

    def unclaim(self) -> None:
        """Give a claimed part back; work already begun is remembered as Already Started."""
        if not self.assigned:
            raise refused("This part is not claimed by anyone", self)
        if self.category == Category.COMPLETED:
            # Who made it stays with a completed part (the leaderboard counts it): revert first.
            raise refused("A completed part cannot be unclaimed; revert it first", self)
        in_progress = self.status == Status.IN_PROGRESS
        self.status = Status.ALREADY_STARTED if in_progress else Status.PENDING
        self.assigned = None
        self.claimed_date = None

    def complete(self, misc_info: dict[str, Any] | None) -> None:
        """Mark the part made; the completion time is stamped into miscInfo."""
        if self.category == Category.REVIEW:
            raise refused("A part still in review cannot be completed; approve it first", self)
        if self.category == Category.COMPLETED:
            raise refused("This part is already completed", self)
        merged = merge_misc_info(self.misc_info, misc_info) or {}
        merged[COMPLETED_AT] = utcnow().isoformat()
        self.misc_info = merged
        self.category = Category.COMPLETED
        self.status = Status.COMPLETED

    def revert(self) -> None:
        """Send a completed part back to its fabrication tab, forgetting its completion: when
        it was completed and whether it was made incorrectly."""
        if self.category != Category.COMPLETED:
            raise refused("Part is not completed", self)
        # Both belong to the completion undone: a kept completed_at would time the next one,
        # a kept flag would cost the remade part's maker a point. Storage and reviewer stay.
        info = {k: v for k, v in (self.misc_info or {}).items() if k not in COMPLETION_KEYS}
        self.misc_info = info or None
        if self.type == PartType.CNC:
            self.category, self.status = Category.CNC, Status.IN_PROGRESS
        elif self.type == PartType.MISC:
            self.category, self.status = Category.MISC, Status.REVIEWED
        else:
            self.category, self.status = Category.HAND, Status.IN_PROGRESS

    @classmethod
    def claim(cls, session: Session, part_id: int, name: str, actor: str) -> Part:
        """Claim a part for `name` atomically: of many concurrent claimers exactly one wins.

        The conditional UPDATE is the first statement of the transaction, so the database
        decides the race; re-claiming by the same person changes nothing but the status.
        """
        if not 0 < part_id <= MAX_PART_ID:
            raise NotFoundError("Part not found")
        now = utcnow()
        unclaimed = or_(cls.assigned.is_(None), cls.assigned == "")
        won = write_parts(
            session,
            update(cls)
            .where(cls.id == part_id, cls.category != Category.COMPLETED, unclaimed)
            .values(assigned=name, claimed_date=now, status=Status.IN_PROGRESS, updated_at=now),
        ).rowcount
        if not won:
            return cls._reclaim_or_refuse(session, part_id, name, actor)
        part = cls._reload(session, part_id)
        if part is None:  # the UPDATE just matched it; only a concurrent DELETE gets here
            raise NotFoundError("Part not found")
        part.record_hand_worker(name, now)
        changes = {"assigned": {"from": None, "to": name}, "claimedDate": {"to": isoformat(now)}}
        record_event(session, part, "claim", actor, {"changes": changes})
        return part

    @classmethod
    def for_update(cls, session: Session, part_id: int) -> Part:
        """The part, its row locked until the transaction ends (a write that first checks the
        state, e.g. If-Match or a transition, must not race another), or the API's 404."""
        part = cls._reload(session, part_id, lock=True) if 0 < part_id <= MAX_PART_ID else None
        if part is None:
            raise NotFoundError("Part not found")
        return part

    @classmethod
    def _reload(cls, session: Session, part_id: int, lock: bool = False) -> Part | None:
        statement = select(cls).where(cls.id == part_id)
        if lock:
            statement = statement.with_for_update()
        options = statement.execution_options(populate_existing=True)
        return session.execute(options).scalar_one_or_none()

    @classmethod
    def _reclaim_or_refuse(cls, session: Session, part_id: int, name: str, actor: str) -> Part:
        """The claim lost: harmless for the holder themself, else 404 or 409. The row is
        locked so the holder cannot give it back while we decide, and names are compared
        here rather than in SQL: MariaDB's default collation says "alice" = "Alice"."""
        part = cls._reload(session, part_id, lock=True)
        if part is None:
            raise NotFoundError("Part not found")
        if part.category == Category.COMPLETED:
            raise refused("A completed part cannot be claimed", part)
        if not part.assigned:
            raise ConflictError("The part was given back while you claimed it; try again")
        if part.assigned != name:
            raise ConflictError(
                f"Part is already claimed by {part.assigned}", assigned=part.assigned
            )
        changes: dict[str, Any] = {}
        if part.status != Status.IN_PROGRESS:
            changes["status"] = {"from": part.status, "to": Status.IN_PROGRESS.value}
            part.status = Status.IN_PROGRESS
        if part.claimed_date is None:  # created with its worker: claimed from now
            part.claimed_date = utcnow()
            changes["claimedDate"] = {"to": isoformat(part.claimed_date)}
        if changes:
            record_event(session, part, "claim", actor, {"changes": changes})
        return part

    def __repr__(self) -> str:
        return f"<Part {self.id} {self.name!r} {self.category}/{self.status}>"
