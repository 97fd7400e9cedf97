"""Keyset pages for the list: `after` names the last part of the previous page, so a deep page
costs what the first one does (an index seek) where `offset` walks every skipped row.

The token is opaque to clients: URL-safe base64 of [sort field, direction, key value, id].
It is only valid with the sort it was made for; anything else is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, func, literal, or_, tuple_

from models.part import Part
from models.types import MAX_PART_ID, UTCDateTime, isoformat
from utils.errors import ValidationError

HEADER = "X-Next-After"


def encode_after(sort_by: str, descending: bool, part: Part) -> str:
    """The token naming `part` as the last one of a page in this order."""
    value = getattr(part, sort_by)
    if isinstance(value, datetime):
        value = isoformat(value)
    raw = json.dumps([sort_by, "desc" if descending else "asc", value, part.id])
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_after(token: str, sort_by: str, descending: bool) -> tuple[Any, int]:
    """(key value, id) from a token made for this sort; a 400 for any other token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        field, direction, value, part_id = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise _refused() from error
    if (field, direction) != (sort_by, "desc" if descending else "asc"):
        raise _refused("after was made for another sort_by or sort_order")
    if not isinstance(part_id, int) or isinstance(part_id, bool) or not 0 < part_id <= MAX_PART_ID:
        raise _refused()
    return _typed(sort_by, value), part_id


def _typed(sort_by: str, value: Any) -> Any:
    column = getattr(Part, sort_by)
    if value is None and column.nullable:
        return None
    python_type = datetime if isinstance(column.type, UTCDateTime) else column.type.python_type
    try:
        if python_type is datetime and isinstance(value, str):
            # In UTC here, as the column binds it: a time near year 1 or 9999 in another
            # zone would overflow there (a 500) instead of being refused.
            moment = datetime.fromisoformat(value)
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        if type(value) is int and python_type is int and abs(value) < 2**63:
            return value
        if python_type is str and isinstance(value, str):
            # NUL or a lone surrogate (UnicodeEncodeError): no database can compare it.
            if "\x00" not in value:
                value.encode("utf-8")
                return value
    except (ValueError, OverflowError) as error:
        raise _refused() from error
    raise _refused()


def after_condition(
    sort_by: str, descending: bool, value: Any, part_id: int, valued_only: bool = False
) -> Any:
    """The rows that come after (value, id) in the list's order (models.queries._ordered):
    NULLs last, text compared lowered, id breaking ties. `valued_only`: the caller already
    keeps to rows with a value (the NULLs come after them)."""
    column = getattr(Part, sort_by)
    text = isinstance(column.type, String)
    key = func.lower(column) if text else column

    def beyond(left: Any, right: Any) -> ColumnElement[bool]:
        return left < right if descending else left > right

    if value is None:  # only NULL keys remain, in id order
        return and_(column.is_(None), beyond(Part.id, part_id))
    bound = func.lower(literal(value, column.type)) if text else literal(value, column.type)
    # A row value: PostgreSQL and SQLite seek the (key, id) index with it; a NULL key makes
    # it unknown, so the NULLs (which come after every value) are added by name.
    later = beyond(tuple_(key, Part.id), tuple_(bound, literal(part_id)))
    return later if valued_only or not column.nullable else or_(column.is_(None), later)


def _refused(message: str = "after is not a page token of this list") -> ValidationError:
    return ValidationError(message, field="after")
