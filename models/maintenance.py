"""Whole-table operations: the wipe."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from models.events import PartEvent, tracked_fields
from models.part import Part
from models.revision import write_parts
from models.types import utcnow

WIPE_BATCH = 500


def wipe_all_parts(session: Session, actor: str) -> int:
    """Delete every part in the caller's transaction (each one's history records it);
    returns how many there were."""
    count = session.execute(select(func.count()).select_from(Part)).scalar_one()
    record_wipe(session, actor)
    write_parts(session, delete(Part))
    session.expunge_all()
    return int(count)


def record_wipe(session: Session, actor: str) -> None:
    """A "delete" event for every part, before the wipe deletes them all: with its last
    content (`fields`), as a single delete keeps it, so the history still says what it was."""
    at, after = utcnow(), 0
    # Batches by id, each read whole before its INSERT: a streamed read (yield_per) would
    # leave PyMySQL's unbuffered result open under the INSERT.
    while batch := list(
        session.execute(select(Part).where(Part.id > after).order_by(Part.id).limit(WIPE_BATCH))
        .scalars()
        .all()
    ):
        after = batch[-1].id
        rows = [
            {
                "part_id": part.id,
                "part_uuid": part.uuid,
                "created_at": at,
                "actor": actor,
                "action": "delete",
                "details": {"fields": tracked_fields(part), "wipe": True},
            }
            for part in batch
        ]
        session.execute(insert(PartEvent), rows)
        for part in batch:  # a season's parts need not all stay in memory at once
            session.expunge(part)


def files_still_owned(session: Session) -> tuple[set[str], set[str]]:
    """The part folders and model keys the rows reference now: after a wipe, those of parts
    added since its commit, whose files the wipe's clean-up must leave alone."""
    rows = session.execute(select(Part.uuid, Part.model_key)).all()
    session.rollback()  # a read only: no transaction left open
    return {uuid for uuid, _key in rows}, {key for _uuid, key in rows if key}
