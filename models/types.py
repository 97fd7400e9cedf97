"""Column types shared by the models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

# Ids live in INTEGER columns: a larger id can name no part (and must not reach a query).
MAX_PART_ID = 2**31 - 1


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (portable to every database); always hands back aware UTC.

    MariaDB keeps microseconds only with an explicit precision.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONDocument(TypeDecorator[Any]):
    """JSON everywhere, kept as LONGTEXT on MariaDB/MySQL: their JSON type checks
    json_valid(), which refuses nesting deeper than 32 levels, and a history event wraps a
    miscInfo that may itself be 31 levels deep."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.LONGTEXT())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None or dialect.name not in {"mysql", "mariadb"}:
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str) and dialect.name in {"mysql", "mariadb"}:
            return json.loads(value)
        return value


def isoformat(value: datetime | None) -> str | None:
    """ISO-8601 with an explicit offset, or None."""
    return value.isoformat() if value is not None else None
