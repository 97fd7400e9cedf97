"""Bulk loading for the benchmark datasets: Core INSERT executemany on SQLite, COPY on
PostgreSQL, with a table's indexes and triggers off during the load and rebuilt after."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, text

BATCH_ROWS = 10_000


# A table's own indexes and triggers as (kind, name, DDL); PostgreSQL's constraint indexes
# (primary key, unique) stay, as COPY needs no help with those.
_FOUND = {
    "sqlite": "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :table"
    " AND sql IS NOT NULL AND type IN ('index', 'trigger')",
    "postgresql": "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = :table"
    " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
}


@contextmanager
def bulk_load(engine: Engine, table_name: str) -> Iterator[None]:
    """The table's indexes and triggers off during the load, then back: per-row index and
    trigger work (the FTS5 search table and trigram indexes of migration 0005) costs several
    times the rest of the load. Each INSERT trigger is replayed once as INSERT ... SELECT."""
    with engine.begin() as connection:
        found = connection.execute(text(_FOUND[engine.dialect.name]), {"table": table_name}).all()
        for kind, name, _ddl in found:
            connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    yield
    with engine.begin() as connection:
        for _kind, _name, ddl in found:
            connection.exec_driver_sql(ddl)
        for kind, _name, ddl in found:
            if kind == "trigger" and re.search(r"\bAFTER\s+INSERT\s+ON\b", ddl, re.I):
                connection.exec_driver_sql(replayed_insert(ddl, table_name))


def replayed_insert(trigger_sql: str, table_name: str) -> str:
    """`... AFTER INSERT ON t BEGIN INSERT INTO x(cols) VALUES (new.a, f(new.b)); END` as
    `INSERT INTO x(cols) SELECT a, f(b) FROM t` (the one-statement shape our triggers have)."""
    body = re.search(r"\bBEGIN\s+(INSERT .+?)\s*;\s*END\s*$", trigger_sql, re.I | re.S)
    values = body and re.fullmatch(r"(INSERT .+?)\s+VALUES\s*\((.+)\)", body.group(1), re.I | re.S)
    if not values:
        raise RuntimeError(f"cannot replay this trigger in bulk: {trigger_sql}")
    selected = re.sub(r"\bnew\.", "", values.group(2), flags=re.I)
    return f"{values.group(1)} SELECT {selected} FROM {table_name}"  # noqa: S608 - our schema's own SQL


def analyze(engine: Engine) -> None:
    # What autovacuum does on a live server shortly after a bulk load (PostgreSQL 13 and
    # later vacuum after inserts too): without ANALYZE the planner guesses row counts of a
    # fresh table; without VACUUM no page is marked all-visible, so no index-only scan (a
    # deep page's ids, models/queries._rows) can skip the table.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE parts"))
        connection.execute(text("VACUUM ANALYZE part_events"))


def insert_rows(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    """Core INSERT executemany in batches, one transaction (SQLite: one fsync); on PostgreSQL
    COPY, which takes 100k parts' history in seconds instead of a minute of INSERTs."""
    if engine.dialect.name == "postgresql":
        _copy_rows(engine, table.name, rows)
        return
    with engine.begin() as connection:
        for start in range(0, len(rows), BATCH_ROWS):
            connection.execute(insert(table), rows[start : start + BATCH_ROWS])


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)  # as models.types.UTCDateTime stores
    return value


def _copy_rows(engine: Engine, table_name: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    statement = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN"
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([_copy_value(row[column]) for column in columns])
            if "id" in columns:  # explicit ids: the next INSERT must not reuse one
                sequence = f"pg_get_serial_sequence('{table_name}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {table_name}))")  # noqa: S608 - our table
        connection.commit()
    finally:
        connection.close()
