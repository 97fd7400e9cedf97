"""Whole-table operations: the wipe."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.events import record_wipe
from models.part import Part
from models.revision import write_parts


def wipe_all_parts(session: Session, actor: str) -> int:
    """Delete every part in the caller's transaction (each one's history records it);
    returns how many there were."""
    count = session.execute(select(func.count()).select_from(Part)).scalar_one()
    record_wipe(session, actor)
    write_parts(session, delete(Part))
    session.expunge_all()
    return int(count)
