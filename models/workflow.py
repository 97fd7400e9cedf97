"""Workflow transitions of a part; each refuses a move that makes no sense with a 409."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.revision import bump_parts_revision
from models.types import MAX_PART_ID, utcnow
from utils.errors import ConflictError, NotFoundError

HAND_WORKERS = "handWorkers"
LEGACY_HAND_WORKERS = "hand_workers"
# Stamped into miscInfo by complete; revert removes it, so it always names the current completion.
COMPLETED_AT = "completed_at"


def merge_misc_info(existing: dict[str, Any] | None, incoming: dict[str, Any] | None) -> Any:
    """Incoming keys win; the result is a new dict so the change is always persisted."""
    merged = {**(existing or {}), **(incoming or {})}
    return merged or None


class PartWorkflowMixin:
    """Transitions as methods of Part; the columns live in models.part."""

    id: Any
    type: Any
    category: Any
    status: Any
    assigned: Any
    claimed_date: Any
    misc_info: Any
    updated_at: Any

    def record_hand_worker(self, name: str, when: datetime | None = None) -> None:
        """Remember everyone who worked on a hand part (the leaderboard counts them)."""
        if self.type != "hand" or not name:
            return
        info = dict(self.misc_info or {})
        workers = list(info.get(HAND_WORKERS) or info.get(LEGACY_HAND_WORKERS) or [])
        workers.append({"name": name, "timestamp": (when or utcnow()).isoformat()})
        info[HAND_WORKERS] = workers
        self.misc_info = info

    def approve(self, reviewer: str | None, misc_info: dict[str, Any] | None) -> None:
        """review → the part's fabrication tab (unknown type → hand), status Reviewed."""
        if self.category != "review":
            raise ConflictError(
                f"Only parts in review can be approved; this part is in {self.category}"
            )
        extra = {"reviewer": reviewer} if reviewer else {}
        self.misc_info = merge_misc_info(merge_misc_info(self.misc_info, misc_info), extra)
        self.category = self.type if self.type in ("cnc", "hand", "misc") else "hand"
        self.status = "Reviewed"

    def unclaim(self) -> None:
        """Give a claimed part back; work already begun is remembered as Already Started."""
        if not self.assigned:
            raise ConflictError("This part is not claimed by anyone")
        self.status = "Already Started" if self.status == "In Progress" else "Pending"
        self.assigned = None
        self.claimed_date = None

    def complete(self, misc_info: dict[str, Any] | None) -> None:
        """Mark the part made; the completion time is stamped into miscInfo."""
        if self.category == "review":
            raise ConflictError("A part still in review cannot be completed; approve it first")
        if self.category == "completed":
            raise ConflictError("This part is already completed")
        merged = merge_misc_info(self.misc_info, misc_info) or {}
        merged[COMPLETED_AT] = utcnow().isoformat()
        self.misc_info = merged
        self.category = "completed"
        self.status = "Completed"

    def revert(self) -> None:
        """Send a completed part back to its fabrication tab, forgetting when it was completed."""
        if self.category != "completed":
            raise ConflictError("Part is not completed")
        # A stale completed_at would be read as the completion time if the part is marked
        # completed again by PUT; the UI's storage and reviewer entries are kept.
        info = {k: v for k, v in (self.misc_info or {}).items() if k != COMPLETED_AT}
        self.misc_info = info or None
        if self.type == "cnc":
            self.category, self.status = "cnc", "In Progress"
        elif self.type == "misc":
            self.category, self.status = "misc", "Reviewed"
        else:
            self.category, self.status = "hand", "In Progress"


def claim_part(session: Session, part_cls: Any, part_id: int, name: str) -> Any:
    """Claim a part for `name` atomically: of many concurrent claimers exactly one wins.

    The conditional UPDATE is the first statement of the transaction, so the database
    decides the race; re-claiming by the same person changes nothing but the status.
    """
    if not 0 < part_id <= MAX_PART_ID:
        raise NotFoundError("Part not found")
    now = utcnow()
    unclaimed = or_(part_cls.assigned.is_(None), part_cls.assigned == "")
    won = session.execute(
        update(part_cls)
        .where(part_cls.id == part_id, part_cls.category != "completed", unclaimed)
        .values(assigned=name, claimed_date=now, status="In Progress", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return _reclaim_or_refuse(session, part_cls, part_id, name)
    bump_parts_revision(session)
    part = _reload(session, part_cls, part_id)
    part.record_hand_worker(name, now)
    return part


def _reload(session: Session, part_cls: Any, part_id: int, lock: bool = False) -> Any:
    statement = select(part_cls).where(part_cls.id == part_id)
    if lock:
        statement = statement.with_for_update()
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


def _reclaim_or_refuse(session: Session, part_cls: Any, part_id: int, name: str) -> Any:
    """The claim lost: harmless for the holder themself, else 404 or 409.

    The row is locked so the holder cannot give it back while we decide, and names are
    compared here rather than in SQL: MariaDB's default collation says "alice" = "Alice".
    """
    part = _reload(session, part_cls, part_id, lock=True)
    if part is None:
        raise NotFoundError("Part not found")
    if part.category == "completed":
        raise ConflictError("A completed part cannot be claimed")
    if not part.assigned:
        raise ConflictError("The part was given back while you claimed it; try again")
    if part.assigned != name:
        raise ConflictError(f"Part is already claimed by {part.assigned}", assigned=part.assigned)
    part.status = "In Progress"
    return part
