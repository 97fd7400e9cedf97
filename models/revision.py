"""A counter that moves with every change to the parts table, for caches and ETags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db

PARTS = "parts"


class Revision(db.Model):
    """One row per watched table; `value` grows by one with every committed change."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


def bump_parts_revision(session: Session) -> None:
    """Move the parts revision inside the caller's transaction."""
    connection = session.connection()
    result = connection.execute(
        update(Revision).where(Revision.name == PARTS).values(value=Revision.value + 1)
    )
    if result.rowcount == 0:
        connection.execute(insert(Revision).values(name=PARTS, value=1))


def current_parts_revision(session: Session) -> int:
    """The parts revision as committed now (0 before the first change)."""
    value = session.execute(select(Revision.value).where(Revision.name == PARTS)).scalar()
    return int(value or 0)


REVISION_SQL = "SELECT value FROM revisions WHERE name = 'parts'"


def committed_parts_revision(engine: Engine) -> int:
    """The parts revision as committed now, read on a pooled driver connection.

    The hot read paths ask this on every request: skipping the ORM session and Core's
    statement machinery halves their cost. The SQL is constant text, the same everywhere.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(REVISION_SQL)
        row = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()
    return int(row[0]) if row else 0


def _touches_parts(session: Session) -> bool:
    from models.part import Part

    return any(
        isinstance(obj, Part)
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    )


@event.listens_for(Session, "after_flush")
def _bump_on_part_flush(session: Session, _context: Any) -> None:
    # Every ORM write to a part moves the revision in the same transaction, so no view can
    # forget it; bulk statements call bump_parts_revision themselves.
    if _touches_parts(session):
        bump_parts_revision(session)
