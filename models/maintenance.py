"""Whole-table operations: the wipe."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.part import Part
from models.revision import bump_parts_revision


def wipe_all_parts(session: Session) -> int:
    """Delete every part in the caller's transaction; returns how many there were."""
    count = session.execute(select(func.count()).select_from(Part)).scalar_one()
    session.execute(delete(Part).execution_options(synchronize_session=False))
    bump_parts_revision(session)
    session.expunge_all()
    return int(count)
