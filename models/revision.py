"""The parts revision: a counter that moves with every committed change to the parts table.

It is the parts cache's only invalidation (utils.parts_cache keys every body by it). It moves in
one function, `bump_parts_revision`, reached two ways: ORM writes through the flush listener
that `watch_part_writes` installs (the factory calls it), and bulk statements through
`write_parts`, the one helper every bulk UPDATE or DELETE of parts goes through.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Executable, String, event, insert, update
from sqlalchemy.engine import Result
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db

PARTS = "parts"


class Revision(db.Model):
    """One row per watched table; `value` grows by one with every committed change."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


def bump_parts_revision(session: Session) -> None:
    """Move the parts revision inside the caller's transaction (invalidates the parts cache)."""
    connection = session.connection()
    result = connection.execute(
        update(Revision).where(Revision.name == PARTS).values(value=Revision.value + 1)
    )
    if result.rowcount == 0:
        connection.execute(insert(Revision).values(name=PARTS, value=1))


def write_parts(session: Session, statement: Executable) -> Result[Any]:
    """Run a bulk UPDATE or DELETE of parts and move the revision if it touched a row.

    Bulk statements bypass the flush, so the listener cannot see them: they come here.
    """
    result = session.execute(statement.execution_options(synchronize_session=False))
    if result.rowcount:  # type: ignore[attr-defined]
        bump_parts_revision(session)
    return result


def _touches_parts(session: Session) -> bool:
    # By table name, not class: models.part imports this module, so it cannot import Part.
    return any(
        getattr(obj, "__tablename__", None) == PARTS
        for group in (session.new, session.dirty, session.deleted)
        for obj in group
    )


def watch_part_writes() -> None:
    """Move the revision on every flush that writes a part (once per process; idempotent)."""
    if not event.contains(Session, "after_flush", _bump_on_part_flush):
        event.listen(Session, "after_flush", _bump_on_part_flush)


def _bump_on_part_flush(session: Session, _context: Any) -> None:
    # Every ORM write to a part moves the revision in the same transaction, so no view can
    # forget it; bulk statements go through write_parts.
    if _touches_parts(session):
        bump_parts_revision(session)
