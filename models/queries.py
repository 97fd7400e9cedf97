"""Reading parts: filter, search, sort and page for the list endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, case, func, or_, select
from sqlalchemy.orm import Session

from models.part import Part
from models.types import MAX_PART_ID
from utils.errors import NotFoundError

SEARCH_COLUMNS = ("name", "notes", "subsystem", "assigned", "material", "part_id")


@dataclass(frozen=True)
class PartQuery:
    """What a list request asks for, already validated."""

    category: str | None = None
    search: str | None = None
    sort_by: str = "created_at"
    descending: bool = True
    limit: int | None = None
    offset: int = 0

    @property
    def is_everything(self) -> bool:
        """True for the SPA's call: every part, default order."""
        return self == PartQuery()


def _filtered(query: PartQuery) -> Select[Any]:
    statement = select(Part)
    if query.category:
        statement = statement.where(Part.category == query.category)
    if query.search:
        # lower() on both sides, % and _ literal; SQLite's lower() is replaced by a Unicode
        # one in app/database.py, so the search ignores case in every script everywhere.
        statement = statement.where(
            or_(
                *(
                    getattr(Part, column).icontains(query.search, autoescape=True)
                    for column in SEARCH_COLUMNS
                )
            )
        )
    return statement


def _ordered(statement: Select[Any], query: PartQuery) -> Select[Any]:
    column = getattr(Part, query.sort_by)
    # NULLs last in both directions on every database; id breaks ties so pages are stable.
    nulls_last = case((column.is_(None), 1), else_=0)
    # Text sorts alike everywhere: MariaDB's collation ignores case, SQLite's and C's do not.
    key = func.lower(column) if isinstance(column.type, String) else column
    if query.descending:
        return statement.order_by(nulls_last, key.desc(), Part.id.desc())
    return statement.order_by(nulls_last, key.asc(), Part.id.asc())


def find_parts(session: Session, query: PartQuery) -> tuple[int, list[Part]]:
    """The total that match (before paging) and the requested page."""
    statement = _filtered(query)
    total = session.execute(
        select(func.count()).select_from(statement.order_by(None).subquery())
    ).scalar_one()
    page = _ordered(statement, query).offset(query.offset or None)
    if query.limit:
        page = page.limit(query.limit)
    return int(total), list(session.execute(page).scalars())


def get_part_or_404(session: Session, part_id: int) -> Part:
    """The part with this id, or the API's 404."""
    part = session.get(Part, part_id) if 0 < part_id <= MAX_PART_ID else None
    if part is None:
        raise NotFoundError("Part not found")
    return part
