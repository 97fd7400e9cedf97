"""Onshape exports (a drawing as PDF, a part studio as STEP): one row per part and kind, the
work a background task does and what came of it, so a lost task message costs nothing and an
unchanged microversion is never exported twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db
from models.types import UTCDateTime, utcnow


class ExportKind(StrEnum):
    """What is exported: the drawing as PDF, or the part studio as STEP."""

    DRAWING = "drawing"
    STEP = "step"


class ExportStatus(StrEnum):
    """Where an export stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# A running export not finished after this long belongs to a dead worker: claimed again.
STALE_AFTER = timedelta(minutes=10)


class OnshapeExport(db.Model):
    """The latest export of one kind for one part."""

    __tablename__ = "onshape_exports"
    __table_args__ = (UniqueConstraint("part_id", "kind", name="uq_onshape_exports_part_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Part ids are never reused (AUTOINCREMENT); a deleted part's row is dropped when met.
    part_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    # The link and microversion of the last export that produced the part's file.
    link: Mapped[str | None] = mapped_column(String(500))
    microversion: Mapped[str | None] = mapped_column(String(64))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    # Onshape asked us to wait (429 Retry-After): nothing is sent before this time.
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def busy(self) -> bool:
        return self.status in (ExportStatus.PENDING, ExportStatus.RUNNING)


def find_export(session: Session, part_id: int, kind: str) -> OnshapeExport | None:
    query = select(OnshapeExport).where(
        OnshapeExport.part_id == part_id, OnshapeExport.kind == kind
    )
    return session.scalars(query).first()


def request_export(session: Session, part_id: int, kind: str) -> OnshapeExport:
    """Queue an export of this part (joins one already waiting or running)."""
    row = find_export(session, part_id, kind)
    if row is None:
        row = OnshapeExport(part_id=part_id, kind=kind, status=ExportStatus.PENDING)
        session.add(row)
    elif not row.busy:
        row.status, row.error_code, row.error = ExportStatus.PENDING, None, None
        row.requested_at, row.finished_at = utcnow(), None
    return row


def pending_export_ids(session: Session) -> list[int]:
    """Exports waiting for a worker, oldest first (running ones whose worker died too)."""
    stale = utcnow() - STALE_AFTER
    query = (
        select(OnshapeExport.id)
        .where(
            (OnshapeExport.status == ExportStatus.PENDING)
            | ((OnshapeExport.status == ExportStatus.RUNNING) & (OnshapeExport.started_at < stale))
        )
        .order_by(OnshapeExport.requested_at)
    )
    return list(session.scalars(query))


def claim_export(session: Session, export_id: int, worker: str) -> bool:
    """Take a waiting export; of several workers exactly one succeeds."""
    now = utcnow()
    claimed = session.execute(
        update(OnshapeExport)
        .where(
            OnshapeExport.id == export_id,
            (OnshapeExport.status == ExportStatus.PENDING)
            | (
                (OnshapeExport.status == ExportStatus.RUNNING)
                & (OnshapeExport.started_at < now - STALE_AFTER)
            ),
        )
        .values(status=ExportStatus.RUNNING, worker=worker, started_at=now)
    )
    return claimed.rowcount == 1


def finish_export(
    row: OnshapeExport, *, link: str, microversion: str | None, file_sha256: str | None
) -> None:
    """Record a successful export (or an unchanged microversion that needed none)."""
    row.status, row.error_code, row.error, row.retry_at = ExportStatus.DONE, None, None, None
    row.link, row.microversion, row.file_sha256 = link, microversion, file_sha256
    row.finished_at = utcnow()


def fail_export(
    row: OnshapeExport, code: str, message: str, retry_at: datetime | None = None
) -> None:
    """Record why an export failed (and, for a 429, when Onshape lets us try again)."""
    row.status, row.error_code, row.error, row.retry_at = (
        ExportStatus.FAILED,
        code,
        message,
        retry_at,
    )
    row.finished_at = utcnow()
