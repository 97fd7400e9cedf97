"""The parts table's read indexes: sort and filter indexes everywhere, and the search index
each database can have (migration 0005 creates the same on a migrated database).

Substring search (models.queries) must give exactly the scan's answer, so each index is exact:
- SQLite: `parts_search`, an FTS5 table with the trigram tokenizer, case-sensitive, holding the
  six searched columns *already lowered by the app's Unicode lower()* (app.database registers
  it on every connection). A quoted phrase of n >= 3 characters matches n - 2 consecutive
  trigrams, which is exactly "is a substring of". Triggers on parts keep it in the same
  transaction as every write (ORM, bulk UPDATE/DELETE, wipe); a restored file carries it.
- PostgreSQL: pg_trgm GIN indexes on the six columns serve `column ILIKE pattern`, which a
  UTF-8 database computes as lower(column) LIKE lower(pattern): the scan's own predicate.
- MariaDB: no substring index; the scan (its sort and filter indexes are the same as the others').
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index, event, func, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from models.part import Part

SEARCH_COLUMNS = ("name", "notes", "subsystem", "assigned", "material", "part_id")
SEARCH_TABLE = "parts_search"
# Sort keys that are NOT NULL and not text: an index on (key, id) serves both directions.
INDEXED_SORTS = ("created_at", "updated_at", "amount", "id")

_columns = Part.__table__.c
SORT_INDEXES = (
    Index("ix_parts_created_at_id", _columns.created_at, _columns.id),
    Index("ix_parts_updated_at_id", _columns.updated_at, _columns.id),
    Index("ix_parts_amount_id", _columns.amount, _columns.id),
    Index("ix_parts_category_created_at_id", _columns.category, _columns.created_at, _columns.id),
    # Covers the statistics' GROUP BY (models.stats): an index-only scan, not the wide rows.
    Index(
        "ix_parts_stats",
        *(_columns[name] for name in ("category", "status", "type", "assigned", "amount")),
    ),
)
TRIGRAM_INDEXES = tuple(
    Index(
        f"ix_parts_{name}_trgm",
        _columns[name],
        postgresql_using="gin",
        postgresql_ops={name: "gin_trgm_ops"},
        # No pending list: a search never scans unmerged entries while autovacuum lags.
        postgresql_with={"fastupdate": "off"},
    ).ddl_if(dialect="postgresql")
    for name in SEARCH_COLUMNS
)
TRIGRAM_INDEX_NAMES = frozenset(str(index.name) for index in TRIGRAM_INDEXES)
# Text sorts compare lower(column) (models.queries): an index on that expression and id serves
# them on SQLite and PostgreSQL (migration 0006); MariaDB has no expression indexes.
TEXT_SORTS = ("name", "status", "assigned", "part_id", "category", "type", "subsystem", "material")
LOWER_INDEXES = tuple(
    Index(f"ix_parts_{name}_lower_id", func.lower(_columns[name]), _columns.id).ddl_if(
        dialect=("sqlite", "postgresql")
    )
    for name in TEXT_SORTS
)
LOWER_INDEX_NAMES = frozenset(str(index.name) for index in LOWER_INDEXES)

# Spelled out (the six SEARCH_COLUMNS): lower() is the app's Unicode one, registered on every
# connection of the app's engine, so the table holds exactly what the scan compares.
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE parts_search USING fts5(name, notes, subsystem, assigned, material,"
    " part_id, tokenize='trigram case_sensitive 1')",
    "CREATE TRIGGER parts_search_insert AFTER INSERT ON parts BEGIN"
    " INSERT INTO parts_search(rowid, name, notes, subsystem, assigned, material, part_id)"
    " VALUES (new.id, lower(new.name), lower(new.notes), lower(new.subsystem),"
    " lower(new.assigned), lower(new.material), lower(new.part_id)); END",
    "CREATE TRIGGER parts_search_update AFTER UPDATE OF id, name, notes, subsystem, assigned,"
    " material, part_id ON parts BEGIN"
    " DELETE FROM parts_search WHERE rowid = old.id;"
    " INSERT INTO parts_search(rowid, name, notes, subsystem, assigned, material, part_id)"
    " VALUES (new.id, lower(new.name), lower(new.notes), lower(new.subsystem),"
    " lower(new.assigned), lower(new.material), lower(new.part_id)); END",
    "CREATE TRIGGER parts_search_delete AFTER DELETE ON parts BEGIN"
    " DELETE FROM parts_search WHERE rowid = old.id; END",
    "INSERT INTO parts_search(rowid, name, notes, subsystem, assigned, material, part_id)"
    " SELECT id, lower(name), lower(notes), lower(subsystem), lower(assigned), lower(material),"
    " lower(part_id) FROM parts",
)
SQLITE_SEARCH_DROP = (
    *(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{kind}" for kind in ("insert", "update", "delete")),
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
)


def compared_on(dialect: str, kind: str, name: str | None) -> bool:
    """Whether a schema comparison (the migration test, autogenerate) should look at this
    object: never at SQLite's FTS5 table and its shadow tables (no model can declare them),
    and at the trigram indexes only on PostgreSQL, the one database that has them."""
    name = name or ""
    if kind == "table":
        return not (name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_"))
    if kind == "index" and name in TRIGRAM_INDEX_NAMES:
        return dialect == "postgresql"
    if kind == "index" and name in LOWER_INDEX_NAMES:
        # SQLite's reflection cannot read expression indexes (it skips them with a warning).
        return dialect == "postgresql"
    return True


def create_sqlite_search(connection: Connection) -> bool:
    """Create and fill the FTS5 table and its triggers; False (search scans) when this SQLite
    lacks FTS5 or the trigram tokenizer (before 3.34)."""
    try:
        connection.exec_driver_sql(SQLITE_SEARCH_DDL[0])
    except OperationalError:
        return False
    for statement in SQLITE_SEARCH_DDL[1:]:
        connection.exec_driver_sql(statement)
    return True


def has_search_table(connection: Connection) -> bool:
    """Whether this SQLite database has the FTS5 table; asked once per pooled connection."""
    known = connection.info.get(SEARCH_TABLE)
    if known is None:
        found = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": SEARCH_TABLE},
        ).first()
        known = connection.info[SEARCH_TABLE] = found is not None
    return bool(known)


def _after_create(_target: Any, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        create_sqlite_search(connection)


def _before_create(_target: Any, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def _before_drop(_target: Any, connection: Connection, **_kw: Any) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_DROP:
            connection.exec_driver_sql(statement)


# create_all (tests, a fresh SQLite file) builds what migration 0005 builds.
event.listen(Part.__table__, "before_create", _before_create)
event.listen(Part.__table__, "after_create", _after_create)
event.listen(Part.__table__, "before_drop", _before_drop)
