"""Reading parts: filter, search, sort and page for the list endpoints."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session

from models.keyset import after_condition, decode_after
from models.part import Part
from models.part_indexes import INDEXED_SORTS, SEARCH_COLUMNS, SEARCH_TABLE, has_search_table
from models.part_wire import WIRE_ATTRIBUTES
from models.types import MAX_PART_ID
from utils.errors import NotFoundError

__all__ = [
    "SEARCH_COLUMNS",
    "PartQuery",
    "find_parts",
    "get_part_or_404",
    "last_of_page",
    "ordered_ids",
    "part_rows",
    "scan_condition",
]

# Shorter terms hold no trigram: PostgreSQL scans; SQLite scans its search table's lowered copy.
TRIGRAM = 3
# SQLite: with more matches than this, walking the sort index finds a page sooner than
# fetching and sorting every match (measured at 100k parts: bench/bench_search.py).
WALK_INDEX_ABOVE = 1000
_search_table = table(SEARCH_TABLE, column("rowid"), *(column(name) for name in SEARCH_COLUMNS))
# A page is rows of the wire shape's columns (models.part_wire.wire_dict makes the JSON of
# each), run on the session's connection: the ORM's execute and row loading cost more CPU
# than the query itself. Built once: a select is immutable (.where() makes a copy). The
# table's own columns, not the ORM's annotated ones: SQLAlchemy maps a cached compilation's
# result columns onto each new statement's, and annotated columns compare by building SQL
# expressions (21 per page, about a fifth of a page's Python calls; BENCHMARKS.md "Scale").
_PAGE = select(*(Part.__table__.c[name] for name in WIRE_ATTRIBUTES))
_PAGE_ID = Part.__table__.c.id


@dataclass(frozen=True)
class PartQuery:
    """What a list request asks for, already validated."""

    category: str | None = None
    search: str | None = None
    sort_by: str = "created_at"
    descending: bool = True
    limit: int | None = None
    offset: int = 0
    after: str | None = None  # a keyset token (models.keyset): the page after that part

    @property
    def is_everything(self) -> bool:
        """True for the SPA's call: every part, default order."""
        return self == PartQuery()


@dataclass(frozen=True)
class _Search:
    """A search term as a condition; on SQLite also the FTS5 matches it is made of."""

    condition: ColumnElement[bool]
    ids: Select[Any] | None = None


def scan_condition(term: str) -> ColumnElement[bool]:
    """The search as a scan: lower() on both sides, % and _ literal. SQLite's lower() is
    replaced by a Unicode one in app/database.py, so it ignores case in every script."""
    return or_(*(getattr(Part, name).icontains(term, autoescape=True) for name in SEARCH_COLUMNS))


def _search(session: Session, term: str) -> _Search:
    """The rows scan_condition finds, through the database's search index where it has one."""
    connection = session.connection()
    dialect = connection.dialect.name
    short = len(term.lower()) < TRIGRAM
    if dialect == "postgresql" and not short:
        # ILIKE is lower(column) LIKE lower(pattern) in a UTF-8 database; pg_trgm serves it.
        columns = (getattr(Part, name) for name in SEARCH_COLUMNS)
        return _Search(or_(*(c.ilike(_pattern(term), escape="/") for c in columns)))
    if dialect != "sqlite" or not has_search_table(connection):
        return _Search(scan_condition(term))
    if short:
        # No trigram to look up: LIKE over the table's lowered copies, without a Python
        # lower() call per row (the term is lowered here by the same function).
        lowered = _pattern(term.lower())
        found = or_(*(_search_table.c[name].like(lowered, escape="/") for name in SEARCH_COLUMNS))
    else:
        # One quoted phrase of the lowered term; a doubled " is the only escape FTS5 needs.
        phrase = '"' + term.lower().replace('"', '""') + '"'
        found = literal_column(SEARCH_TABLE).op("MATCH")(phrase)
    ids = select(_search_table.c.rowid).where(found)
    return _Search(Part.id.in_(ids), ids)


def _pattern(term: str) -> str:
    escaped = term.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _order(query: PartQuery, nulls_last: bool = True) -> tuple[Any, ...]:
    """The ORDER BY keys of the query's sort."""
    column_ = getattr(Part, query.sort_by)
    # Text sorts alike everywhere: MariaDB's collation ignores case, SQLite's and C's do not.
    key = func.lower(column_) if isinstance(column_.type, String) else column_
    # id breaks ties so pages are stable; a NOT NULL key needs no NULLs-last term, which
    # leaves (key, id) for an index to serve.
    keys = (key.desc(), Part.id.desc()) if query.descending else (key.asc(), Part.id.asc())
    if column_.nullable and nulls_last:
        # NULLs last in both directions on every database.
        keys = (case((column_.is_(None), 1), else_=0), *keys)
    return keys


def _count(
    session: Session, query: PartQuery, conditions: list[Any], search: _Search | None
) -> int:
    if search is not None and search.ids is not None and not query.category:
        # The FTS5 table has exactly one row per part (its triggers): count the matches there.
        counted = select(func.count()).select_from(search.ids.subquery())
    else:
        counted = select(func.count()).select_from(Part).where(*conditions)
    return int(session.connection().execute(counted).scalar_one())


def find_parts(
    session: Session, query: PartQuery, total: int | None = None, narrow: bool = False
) -> tuple[int, list[Row[Any]]]:
    """The total that match (before paging; counted unless the caller knows it for these
    filters at this revision) and the requested page, as rows of the wire columns; `narrow`
    rows hold only the id and the sort's column (part_rows reads the rest by id)."""
    base = _narrow_page(query.sort_by) if narrow else _PAGE
    after = decode_after(query.after, query.sort_by, query.descending) if query.after else None
    conditions, search = _filters(session, query)
    if total is None:
        total = _count(session, query, conditions, search)
    if search is not None and search.ids is not None and _walk_sort_index(query, total):
        # id + 0 keeps SQLite from looking the matches up by id: it walks the sort index.
        conditions[-1] = (Part.id + 0).in_(search.ids)
    if query.limit and getattr(Part, query.sort_by).nullable and _lower_indexed(session):
        return total, _nulls_apart(session, base, query, conditions, after)
    if after is not None:
        conditions.append(after_condition(query.sort_by, query.descending, *after))
    return total, _rows(session, base, conditions, _order(query), query.offset, query.limit)


def ordered_ids(session: Session, query: PartQuery) -> list[int]:
    """The id of every part the query's filters match, in its order (its page ignored): what
    utils.list_orders keeps, so another page of the same filter and sort is a slice."""
    conditions, _ = _filters(session, query)
    by_id = select(_PAGE_ID)
    if getattr(Part, query.sort_by).nullable and _lower_indexed(session):
        # As _nulls_apart walks it: the valued rows on the (lower(column), id) index, then
        # the NULLs by id (an ORDER BY with the NULLs-last term would sort every row).
        column_ = getattr(Part, query.sort_by)
        valued = by_id.where(*conditions, func.lower(column_) >= "")
        empty = by_id.where(*conditions, column_.is_(None))
        last = Part.id.desc() if query.descending else Part.id.asc()
        return [
            *_ids(session, valued.order_by(*_order(query, nulls_last=False))),
            *_ids(session, empty.order_by(last)),
        ]
    return _ids(session, by_id.where(*conditions).order_by(*_order(query)))


def last_of_page(session: Session, sort_by: str, part_id: int) -> Row[Any] | None:
    """The id and sort column of one part (a page's last, for its keyset token), or None if
    it was deleted since its id was read."""
    return session.connection().execute(_narrow_page(sort_by).where(_PAGE_ID == part_id)).first()


def part_rows(session: Session, ids: list[int]) -> list[Row[Any]]:
    """The wire columns of these parts, in no particular order (a deleted one is missing)."""
    return list(session.connection().execute(_PAGE.where(_PAGE_ID.in_(ids))))


def _filters(session: Session, query: PartQuery) -> tuple[list[Any], _Search | None]:
    """The query's category and search as WHERE conditions (the search's last)."""
    search = _search(session, query.search) if query.search else None
    conditions: list[Any] = [Part.category == query.category] if query.category else []
    if search is not None:
        conditions.append(search.condition)
    return conditions, search


def _ids(session: Session, statement: Select[Any]) -> list[int]:
    return list(session.connection().execute(statement).scalars())


@functools.cache
def _narrow_page(sort_by: str) -> Select[Any]:
    # What a page's order and its keyset token need (models.keyset.encode_after); built once
    # per sort, like _PAGE.
    return select(_PAGE_ID) if sort_by == "id" else select(_PAGE_ID, Part.__table__.c[sort_by])


def _lower_indexed(session: Session) -> bool:
    return session.get_bind().dialect.name in ("sqlite", "postgresql")


def _nulls_apart(
    session: Session,
    base: Select[Any],
    query: PartQuery,
    conditions: list[Any],
    after: tuple[Any, int] | None,
) -> list[Row[Any]]:
    """A nullable text sort's page as two walks of its (lower(column), id) index: the valued
    rows (>= '': a range, so SQLite seeks past the NULLs), then the NULLs by id."""
    column_ = getattr(Part, query.sort_by)
    empty = [*conditions, column_.is_(None)]
    later: list[Any] = []  # after the previous page's last valued part
    if after is not None and after[0] is None:
        empty.append(after_condition(query.sort_by, query.descending, *after))
    elif after is not None:
        later.append(after_condition(query.sort_by, query.descending, *after, valued_only=True))
    rows: list[Row[Any]] = []
    skip = query.offset
    if after is None or after[0] is not None:  # else the previous page ended among the NULLs
        valued = [*conditions, func.lower(column_) >= "", *later]  # NOT NULL, as a range
        rows = _rows(session, base, valued, _order(query, nulls_last=False), skip, query.limit)
        if rows:
            skip = 0  # the NULLs follow from their first
        elif skip:
            # The same rows counted without lower(): SQLite's is a Python call per row.
            skip = max(0, skip - _counted(session, [*conditions, column_.is_not(None), *later]))
    if (wanted := int(query.limit or 0) - len(rows)) > 0:
        by_id = Part.id.desc() if query.descending else Part.id.asc()
        rows += _rows(session, base, empty, (by_id,), skip, wanted)
    return rows


def _rows(
    session: Session,
    base: Select[Any],
    conditions: list[Any],
    order: tuple[Any, ...],
    skip: int,
    limit: int | None,
) -> list[Row[Any]]:
    """The rows of one page, `base`'s columns. A page past others (an offset and a limit)
    finds its ids first, reading only the sort's index, then reads those rows: the skipped
    parts are never read from the table (a deep offset at 100k parts; BENCHMARKS.md "Scale")."""
    if skip and limit:
        ids = select(Part.id).where(*conditions).order_by(*order).offset(skip).limit(limit)
        found = ids.subquery()
        page = base.join(found, _PAGE_ID == found.c.id).order_by(*order)
    else:
        page = base.where(*conditions).order_by(*order).offset(skip or None).limit(limit)
    return list(session.connection().execute(page))


def _counted(session: Session, conditions: list[Any]) -> int:
    counted = select(func.count()).select_from(Part).where(*conditions)
    return int(session.connection().execute(counted).scalar_one())


def _walk_sort_index(query: PartQuery, total: int) -> bool:
    return bool(query.limit) and query.sort_by in INDEXED_SORTS and total > WALK_INDEX_ABOVE


def get_part_or_404(session: Session, part_id: int) -> Part:
    """The part with this id, or the API's 404."""
    part = session.get(Part, part_id) if 0 < part_id <= MAX_PART_ID else None
    if part is None:
        raise NotFoundError("Part not found")
    return part
