"""The part history: one row per change, written in the transaction of the change itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    String,
    column,
    func,
    insert,
    literal,
    select,
    table,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db
from models.types import JSONDocument, UTCDateTime, isoformat, utcnow

DEFAULT_ACTOR = "api"
MAX_ACTOR_LENGTH = 100
# Wire keys that are not the part's own content: identity, bookkeeping, the model's state
# (conversion results are events of their own).
UNTRACKED = frozenset({"id", "uuid", "createdAt", "updatedAt", "modelStatus", "modelError"})
# What an assignee change through PUT is recorded as: a claim, like POST /assign.
CLAIM_FIELDS = ("assigned", "claimedDate")


class PartEvent(db.Model):
    """Something that happened to a part. No foreign key: the history outlives the part."""

    __tablename__ = "part_events"
    __table_args__ = (
        Index("ix_part_events_part_id_id", "part_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    part_id: Mapped[int] = mapped_column(Integer, nullable=False)
    part_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor: Mapped[str] = mapped_column(String(MAX_ACTOR_LENGTH), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)

    def to_dict(self) -> dict[str, Any]:
        """The wire shape of one history entry."""
        return {
            "id": self.id,
            "at": isoformat(self.created_at),
            "actor": self.actor,
            "action": self.action,
            "part": {"id": self.part_id, "uuid": self.part_uuid},
            "details": self.details or {},
        }


def tracked_fields(part: Any) -> dict[str, Any]:
    """The part's content as the wire names it, for before/after comparisons."""
    return {key: value for key, value in part.to_dict().items() if key not in UNTRACKED}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for every field whose value differs."""
    return {
        key: {"from": before.get(key), "to": value}
        for key, value in after.items()
        if before.get(key) != value
    }


def record_event(
    session: Session, part: Any, action: str, actor: str, details: dict[str, Any] | None = None
) -> PartEvent:
    """Add one event for `part` to the caller's transaction (the part must have an id)."""
    if part.id is None:
        session.flush()
    event = PartEvent(
        part_id=part.id, part_uuid=part.uuid, actor=actor, action=action, details=details or {}
    )
    session.add(event)
    return event


@contextmanager
def recorded(session: Session, part: Any, action: str, actor: str, **extra: Any) -> Iterator[None]:
    """Record what the body of the block changes on `part` as one event (or, for an update
    that moves the assignee, a claim/unclaim event beside the update event)."""
    before = tracked_fields(part) if part.id is not None else {}
    yield
    session.flush()
    changes = changed_fields(before, tracked_fields(part))
    if action == "update" and "assigned" in changes:
        claim = {key: changes.pop(key) for key in CLAIM_FIELDS if key in changes}
        claim_action = "claim" if part.assigned else "unclaim"
        record_event(session, part, claim_action, actor, {"changes": claim, "via": "update"})
        if not changes:
            return
    if changes or action != "update":
        record_event(session, part, action, actor, {"changes": changes, **extra})


def record_upload(session: Session, part: Any, actor: str, *, replaced: bool) -> PartEvent:
    """An upload (or replacement) of the part's file, in the upload's own transaction."""
    details = {
        "file": part.file,
        "sha256": part.file_sha256,
        "size": part.file_size,
        "kind": part.file_ext,
        "replaced": replaced,
        "modelStatus": part.model_status,
    }
    return record_event(session, part, "replace" if replaced else "upload", actor, details)


_PARTS = table("parts", column("id"), column("uuid"), column("model_key"))
CONVERTER_ACTOR = "converter"
ONSHAPE_ACTOR = "onshape"


def _record_for_parts(
    session: Session, where: Any, action: str, actor: str, details: dict[str, Any]
) -> None:
    """One event per part matching `where`, by INSERT … SELECT: for writers that hold no Part
    objects (the conversion runner, the Onshape exports), in their own transaction."""
    rows = select(
        _PARTS.c.id,
        _PARTS.c.uuid,
        literal(utcnow(), UTCDateTime()),
        literal(actor),
        literal(action),
        literal(details, JSONDocument()),
    ).where(where)
    columns = ["part_id", "part_uuid", "created_at", "actor", "action", "details"]
    session.execute(insert(PartEvent).from_select(columns, rows))


def record_model_result(session: Session, model_key: str, status: str, error: str | None) -> None:
    """A "conversion" event for every part showing this model, with the result stored."""
    details = {"modelStatus": status, "modelError": error, "modelKey": model_key}
    _record_for_parts(
        session, _PARTS.c.model_key == model_key, "conversion", CONVERTER_ACTOR, details
    )


def record_onshape_export(session: Session, part_id: int, details: dict[str, Any]) -> None:
    """An "onshape_export" event (kind, status, link or error) for one part."""
    _record_for_parts(session, _PARTS.c.id == part_id, "onshape_export", ONSHAPE_ACTOR, details)


def history_page(
    session: Session, part_id: int | None, deleted: bool, limit: int, offset: int
) -> tuple[list[PartEvent], int]:
    """Events newest first, of one part, of deleted parts only, or of every part."""
    statement = select(PartEvent)
    if part_id is not None:
        statement = statement.where(PartEvent.part_id == part_id)
    if deleted:
        gone = select(PartEvent.part_id).where(PartEvent.action == "delete")
        statement = statement.where(PartEvent.part_id.in_(gone))
    total = session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    page = statement.order_by(PartEvent.id.desc()).limit(limit).offset(offset)
    return list(session.execute(page).scalars()), int(total)


def part_has_history(session: Session, part_id: int) -> bool:
    """True when any event names this part id (alive or deleted)."""
    found = select(PartEvent.id).where(PartEvent.part_id == part_id).limit(1)
    return session.execute(found).first() is not None
